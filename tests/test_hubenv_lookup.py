"""tc139k/hubenv.py's name lookup and tc139k/download/locate.py's reading, at the inputs only
they see: the reason a failed lookup gives, the host of a url that is not the endpoint, and
a line of an annotation file that is not UTF-8."""

from __future__ import annotations

import json
import socket

import pytest

from tc139k import hubenv
from tc139k.download.locate import locate_videos


@pytest.fixture
def lookups(monkeypatch):
    for name in hubenv.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://endpoint.example")
    asked = []

    def fail(host, port, *a, **kw):
        asked.append((host, port))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    return asked


def test_a_failed_lookup_gives_the_resolver_reason_alone(lookups):
    assert hubenv.name_lookup_failure() == "Name or service not known"
    assert lookups == [("endpoint.example", 443)]


def test_a_failure_without_a_resolver_reason_gives_its_text(monkeypatch, lookups):
    def fail(host, port, *a, **kw):
        raise OSError("no network stack")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert hubenv.name_lookup_failure() == "no network stack"


def test_unreachable_names_the_host_of_the_url_it_was_given(lookups):
    why = hubenv.unreachable("http://mirror.example:8080/datasets/x")
    assert why == "mirror.example cannot be reached (Name or service not known)"
    assert lookups == [("mirror.example", 443)]
    assert hubenv.unreachable() == "endpoint.example cannot be reached (Name or service not known)"


def test_locate_passes_over_a_line_that_is_not_utf8(tmp_path):
    record = {"videos": [["x/frames/coin/vid1/000000.jpg"]]}
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b'{"videos": [["coin/\xff\xfe/000000.jpg"]]}\n\xff\xfe\n' + json.dumps(record).encode() + b"\n")
    assert locate_videos([path], {"vid1"}) == {"vid1": {"coin"}}
