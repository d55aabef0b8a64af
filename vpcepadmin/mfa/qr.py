"""The enrolment QR code, drawn on the server as SVG (no script, nothing loaded from elsewhere)."""

from __future__ import annotations

from base64 import b64encode

import qrcode
from qrcode.image.svg import SvgPathFillImage


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code in a ``data:`` URI for an ``<img>`` (the CSP allows ``img-src data:``)."""
    image = qrcode.make(text, image_factory=SvgPathFillImage, box_size=10, border=4)
    return "data:image/svg+xml;base64," + b64encode(image.to_string()).decode("ascii")
