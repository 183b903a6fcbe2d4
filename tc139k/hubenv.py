"""The Hugging Face Hub environment, read as huggingface_hub reads it, at call time: for
every stage that may reach the Hub (downloads, model weights).

- `hub_offline()`: HF_HUB_OFFLINE set.
- `unreachable(url)`: why the host of `url` (default: HF_ENDPOINT, else huggingface.co)
  cannot be reached, or None; a name lookup only, so an offline machine answers at once
  instead of after the client's retries.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_offline() -> bool:
    """HF_HUB_OFFLINE read as huggingface_hub reads it (1/true/yes/on), at call time."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def unreachable(url: str | None = None) -> str | None:
    """Why the host of `url` (default: the Hub endpoint) cannot be reached, or None."""
    host = urlparse(url or os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as e:
        return f"{host} cannot be reached ({e})"
    return None
