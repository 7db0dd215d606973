"""Shared helpers for HTTP access to the publishers' servers (downloads, ArcGIS layers, grant feeds)."""

from __future__ import annotations

from urllib.parse import urlparse

__all__ = ["connection_reason"]


def connection_reason(url: str, exc: BaseException) -> str:
    """A short reason for a failed connection: ``cannot connect to HOST (why)``."""
    text = str(exc)
    host = urlparse(url).netloc
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        why = "host name not found: offline, or no DNS"
    elif "timed out" in text.lower() or "Timeout" in type(exc).__name__:
        why = "timed out"
    elif "refused" in text.lower():
        why = "connection refused"
    else:
        why = type(exc).__name__
    return f"{url}: cannot connect to {host} ({why})"
