"""Request hygiene before any view runs."""

from django.http import HttpResponseBadRequest, JsonResponse

NUL = "\x00"


class RejectNulMiddleware:
    """PostgreSQL text cannot hold the NUL character: a query-string or form value with one is
    answered 400 here, naming the field, instead of failing later as a database error (a 500).
    JSON bodies are the API serializers' business (DRF's CharField refuses NUL with a 400); multipart
    bodies are left unread here (reading them would consume the stream a view may need raw)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sources = [request.GET]
        if request.content_type == "application/x-www-form-urlencoded":  # parsed from the cached body
            sources.append(request.POST)
        bad = sorted({key for data in sources for key, values in data.lists()
                      if NUL in key or any(NUL in v for v in values)})
        if bad:
            message = "The NUL character (0x00) is not allowed."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "errors": {key.replace(NUL, ""): [message] for key in bad}},
                                    status=400)
            return HttpResponseBadRequest(f"{message} ({', '.join(k.replace(NUL, '') for k in bad)})")
        return self.get_response(request)
