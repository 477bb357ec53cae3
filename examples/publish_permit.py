"""Publish permit commands to opscom.ingress the way an enterprise system would (pika).

    python examples/publish_permit.py create acme-erp 4711 --plate AB12 --zone "Lot 4" \
        --start 2026-07-02T09:00:00Z --end 2026-07-02T11:00:00Z --amount 14.50
    python examples/publish_permit.py update acme-erp 4711 --end 2026-07-02T12:00:00Z
    python examples/publish_permit.py delete acme-erp 4711

Uses publisher confirms and `mandatory`, so it says so when nothing is bound to receive
the message (run `opscom-bridge topology` first). AMQP_URL as for the bridge.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid

import pika

FIELDS = {"plate": "plate", "zone": "zone", "permit_no": "permitNo", "amount": "amount",
          "currency": "currency", "start": "startTime", "end": "endTime",
          "reference_id": "referenceID"}


def main() -> int:
    parser = argparse.ArgumentParser(description="publish one permit command")
    parser.add_argument("action", choices=("create", "update", "delete"))
    parser.add_argument("source")
    parser.add_argument("source_id")
    for option in FIELDS:
        parser.add_argument(f"--{option.replace('_', '-')}")
    parser.add_argument("--event-id", default=None, help="dedupe key (default: a new uuid)")
    args = parser.parse_args()
    command = {"source": args.source, "source_id": args.source_id}
    command.update({name: getattr(args, option) for option, name in FIELDS.items()
                    if getattr(args, option) is not None})
    event_id = args.event_id or str(uuid.uuid4())
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                      message_id=event_id)
    try:
        channel.basic_publish("opscom.ingress", f"permit.{args.action}",
                              json.dumps(command).encode(), properties, mandatory=True)
    except pika.exceptions.UnroutableError:
        print("not routed: is the topology declared (opscom-bridge topology)?", file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(f"published {args.action} {args.source}/{args.source_id} event_id={event_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
