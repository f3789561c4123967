from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M`` (max 500); the answer carries ``count``, ``next``, ``previous``."""

    page_size_query_param = "page_size"
    max_page_size = 500
