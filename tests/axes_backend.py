"""Test-only: django-axes refuses an authenticate() call without a request, which is how Django's
test Client.login() authenticates. Such calls skip the lockout check here; every login through a
page (a real request) is checked by the real backend, as in production."""

from axes.backends import AxesStandaloneBackend


class AxesBackendForTestClient(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
