"""The Hugging Face Hub environment, read as huggingface_hub reads it, at call time: for
every stage that may reach the Hub (downloads, model weights).

- `hub_offline()`: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set, as huggingface_hub reads it;
  `hub_true(value)`: any of its switches' values, read the same way.
- `unreachable(url)`: why the host of `url` (default: HF_ENDPOINT, else huggingface.co)
  cannot be reached, or None (`name_lookup_failure(url)`: the bare reason); a name lookup
  only, so an offline machine answers at once instead of after the client's retries. Behind
  a proxy (HTTPS_PROXY, ALL_PROXY), which resolves names itself, nothing is looked up.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

HUB_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's, compared upper-cased as is


def hub_true(value: str | None) -> bool:
    """A switch of huggingface_hub's read as it reads them: 1/on/yes/true in any case, as is
    (no spaces stripped)."""
    return value is not None and value.upper() in HUB_TRUE_VALUES


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (else TRANSFORMERS_OFFLINE) read exactly as huggingface_hub reads it,
    but at call time: the toolkit and its Hub client agree on whether requests may be made."""
    return hub_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def unreachable(url: str | None = None) -> str | None:
    """Why the host of `url` (default: the Hub endpoint) cannot be reached, or None."""
    why = name_lookup_failure(url)
    return f"{_host(url)} cannot be reached ({why})" if why else None


def name_lookup_failure(url: str | None = None) -> str | None:
    """Why the host name of `url` (default: the Hub endpoint) does not resolve, or None (also
    behind a proxy, which resolves names itself)."""
    if any(os.environ.get(k) for k in PROXY_VARIABLES):
        return None
    try:
        socket.getaddrinfo(_host(url), 443)
    except OSError as e:
        return str(e.strerror or e)
    return None


def _host(url: str | None) -> str:
    return urlparse(url or os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
