"""A small real HTTP client for the web form's tests (http.client: no browser, no magic)."""

from __future__ import annotations

import http.client
import re
import secrets
from dataclasses import dataclass
from html import unescape


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def text(self) -> str:
        """The body with its character references resolved (an escaped ' reads as ')."""
        return unescape(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def by_id(self, element_id: str) -> str | None:
        """The text inside the element with this id (tags dropped), or None."""
        pattern = rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>'
        found = re.search(pattern, self.body, re.S)
        text = re.sub(r"<[^>]+>", "", found.group(2)) if found else None
        return " ".join(unescape(text).split()) if text is not None else None

    @property
    def token(self) -> str:
        found = re.search(r'name="token" value="([^"]+)"', self.body)
        assert found, self.body[:2000]
        return found.group(1)


class Client:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.port, self.host, self.timeout = port, host, timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            found = {k.lower(): v for k, v in response.getheaders()}
            return Answer(response.status, found, data.decode("utf-8", "replace"))
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(
        self,
        fields: dict[str, str],
        photo: bytes | None = None,
        headers: dict[str, str] | None = None,
        path: str = "/invia",
    ) -> Answer:
        body, content_type = multipart(fields, photo)
        return self.request("POST", path, body, {"Content-Type": content_type, **(headers or {})})

    def submit(self, fields: dict[str, str], photo: bytes | None = None, form: str = "/") -> Answer:
        """GET the form, POST it with its token, follow the redirect: the answer page."""
        token = self.get(form).token
        posted = self.post({"token": token, **fields}, photo)
        if posted.status != 303:
            return posted
        return self.get(posted.header("location") or "")


def multipart(fields: dict[str, str], photo: bytes | None) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    if photo is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="foto.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
            + photo
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
