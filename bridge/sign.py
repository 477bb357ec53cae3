"""`opscom-bridge sign <vendor> <file>`: the headers a vendor would send, and a curl line.

Uses the vendor's configured scheme (BRIDGE_CONFIG) and its credential
(BRIDGE_VENDOR_<NAME>_SECRET; with several, the first). For trying the bridge out
and for vendors' integration tests; never logs the credential itself.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from bridge.errors import SettingsError
from bridge.settings import load_settings
from bridge.web.auth import AuthError, StandardWebhooks, Verifier
from bridge.web.vendors import build_registry


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opscom-bridge sign", description=__doc__)
    parser.add_argument("vendor", help="vendor name, e.g. passport")
    parser.add_argument("file", help="JSON body to sign ('-' for standard input)")
    parser.add_argument("--url", default="http://localhost:8080",
                        help="bridge base URL for the curl line (default %(default)s)")
    parser.add_argument("--id", dest="msg_id", help="webhook-id (Standard Webhooks)")
    parser.add_argument("--headers-only", action="store_true", help="print only the headers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        vendors = build_registry(load_settings(), warn=False)
    except SettingsError as exc:
        print(f"opscom-bridge sign: {exc}", file=sys.stderr)
        return 2
    vendor = vendors.get(args.vendor)
    if vendor is None:
        print(f"opscom-bridge sign: unknown vendor {args.vendor!r} "
              f"(known: {', '.join(sorted(vendors))})", file=sys.stderr)
        return 2
    body = _read(args.file)
    try:
        headers = _sign(vendor.verifier, body, args.msg_id)
    except AuthError:
        print(f"opscom-bridge sign: set BRIDGE_VENDOR_{args.vendor.upper().replace('-', '_')}"
              "_SECRET first", file=sys.stderr)
        return 2
    headers = {"Content-Type": "application/json", **headers}
    for name, value in headers.items():
        print(f"{name}: {value}")
    if not args.headers_only:
        print(curl_line(f"{args.url.rstrip('/')}/webhooks/{args.vendor}", headers, args.file))
    return 0


def _sign(verifier: Verifier, body: bytes, msg_id: str | None) -> dict[str, str]:
    if msg_id is not None and isinstance(verifier, StandardWebhooks):
        return verifier.sign(body, msg_id)
    return verifier.sign(body)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def curl_line(url: str, headers: dict[str, str], path: str) -> str:
    """A copy-pasteable curl posting the file byte for byte (the signature covers the bytes)."""
    parts = ["curl", "-sS", "-X", "POST", url]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", f"@{path}"]
    return " ".join(shlex.quote(p) for p in parts)
