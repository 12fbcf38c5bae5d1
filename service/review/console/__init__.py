"""The reviewer console: server-rendered pages under ``/console`` (routes, security, rendering)."""

from service.review.console.routes import router

__all__ = ["router"]
