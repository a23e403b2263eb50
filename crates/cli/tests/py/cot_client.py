"""A TAK client for truce's Cursor-on-Target output, built on the real third-party
libraries: pytak opens the TCP connection (from a COT_URL, as any pytak app does) and
takproto decodes the TAK protobuf frames after the TAK negotiation.

Usage: python cot_client.py HOST PORT TOKEN SOURCE
Sends detections reported by SOURCE (a good one, a malformed one, a chat message, one from
an unknown source) and collects truce's replies to each (CoT reply events: y-a-r when
logged, y-c-f when refused); prints one JSON object: the XML events received before the
switch, the replies, the negotiation, and the protobuf events decoded after it.
"""
import asyncio
import configparser
import json
import re
import sys
import xml.etree.ElementTree as ET

import pytak
import takproto


NOTES = []
REPLIES = ("y-a-r", "y-c-f")


def note_of(cot_type, remarks):
    """truce's reply, as `logged observation N` or `refused: why`."""
    assert cot_type in REPLIES, cot_type
    text = remarks.removeprefix("truce: ")
    assert text.startswith("logged" if cot_type == "y-a-r" else "refused"), (cot_type, text)
    return text


async def read_xml_events(reader, want, buffer=b"", timeout=60):
    """CoT XML events until `want` has matched one (split at each </event>), starting with
    what an earlier call left in `buffer`; returns them and what follows. truce's replies
    are collected in NOTES instead."""
    events = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        while b"</event>" in buffer:
            raw, buffer = buffer.split(b"</event>", 1)
            try:
                event = ET.fromstring(raw + b"</event>")
            except ET.ParseError as e:
                raise SystemExit(f"not a CoT event ({e}): {raw[:400]!r}")
            if event.get("type") in REPLIES:
                NOTES.append(note_of(event.get("type"), event.find("detail/remarks").text))
            else:
                events.append(event)
            if want(event):
                return events, buffer
        chunk = await asyncio.wait_for(reader.read(65536), max(0.1, end - loop.time()))
        if not chunk:
            raise SystemExit(f"connection closed after {len(events)} events")
        buffer += chunk


def varint(data, at):
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


async def read_notes(reader, buffer, count):
    """Reads until `count` replies have come; returns what else was read."""
    _, buffer = await read_xml_events(reader, lambda e: len(NOTES) >= count, buffer, 30)
    return buffer


async def read_frames(reader, buffer, want, timeout=30):
    """TAK protocol frames (0xbf, varint length, TakMessage) until `want` has matched a
    decoded event or the server closes; returns the events, what follows, and whether the
    stream was closed."""
    decoded = []
    while True:
        while len(buffer) >= 2 and buffer[0] == 0xBF:
            length, start = varint(buffer, 1)
            if len(buffer) < start + length:
                break
            frame, buffer = buffer[: start + length], buffer[start + length :]
            event = takproto.parse_proto(bytearray(frame)).cotEvent
            decoded.append(
                {"uid": event.uid, "type": event.type, "how": event.how, "ce": event.ce,
                 "lat": event.lat, "lon": event.lon, "stale_ms": event.staleTime - event.sendTime,
                 "xml_detail": event.detail.xmlDetail}
            )
            if want(decoded[-1]):
                return decoded, buffer, False
        chunk = await asyncio.wait_for(reader.read(65536), timeout)
        if not chunk:
            return decoded, buffer, True
        buffer += chunk


def proto_note(event):
    remarks = re.search(r"<remarks>(.*)</remarks>", event["xml_detail"]).group(1)
    return note_of(event["type"], remarks.replace("&lt;", "<").replace("&gt;", ">"))


def detection(source, uid="track-1", cot_type="a-h-G-E-W-R"):
    """A detection as a drone ground station sends it (pytak builds the event)."""
    root = ET.fromstring(pytak.gen_cot(lat=48.16, lon=37.97, ce=25, le=9999999, hae=0,
                                       uid=uid, cot_type=cot_type))
    detail = root.find("detail")
    if detail is None:
        detail = ET.SubElement(root, "detail")
    ET.SubElement(detail, "link", {"uid": source, "relation": "p-p", "type": "a-f-A-M-F-Q"})
    return ET.tostring(root)


async def main(host, port, token, source):
    config = configparser.ConfigParser()
    config["cot"] = {"COT_URL": f"tcp://{host}:{port}"}
    reader, writer = await pytak.protocol_factory(config["cot"])
    writer.write(f"truce-token {token}\n".encode())
    await writer.drain()

    def is_finding(e):
        return e.get("uid", "").startswith("truce-f-")

    events, rest = await read_xml_events(reader, is_finding)
    offer = [e for e in events if e.get("type") == "t-x-takp-v"]

    # First the client's own position report (no reporting sensor): passed unanswered, so
    # the first reply is the good detection's. Then detections: a good one, a broken one, a
    # chat message, one from nobody.
    own_position = pytak.gen_cot(lat=48.1, lon=37.9, ce=10, le=9999999, hae=0,
                                 uid="pytak-test", cot_type="a-f-G-U-C")
    for raw in (own_position,
                detection(source),
                b'<event version="2.0" uid="bad" type="a-h-G-E-W-R" time="2026-01-07T11:00:00Z"><point lat="48" lon="37" ce="5"></event>',
                detection(source, uid="chat-1", cot_type="b-t-f"),
                detection("nobody")):
        writer.write(raw)
    await writer.drain()
    rest = await read_notes(reader, rest, 4)
    finding = [e for e in events if is_finding(e)][0]
    point = finding.find("point")
    remarks = finding.find("detail/remarks").text

    # Ask to switch to TAK protocol version 1, as TAK clients do.
    request = pytak.gen_cot(
        lat=0, lon=0, ce=9999999, le=9999999, hae=0, uid="pytak-test", cot_type="t-x-takp-q"
    )
    root = ET.fromstring(request)
    detail = root.find("detail")
    if detail is None:
        detail = ET.SubElement(root, "detail")
    control = ET.SubElement(detail, "TakControl")
    ET.SubElement(control, "TakRequest", {"version": "1"})
    writer.write(ET.tostring(root))
    await writer.drain()
    answer, rest = await read_xml_events(
        reader, lambda e: e.get("type") == "t-x-takp-r", rest, timeout=30
    )
    response = answer[-1].find("detail/TakControl/TakResponse").get("status")

    # Then protobuf frames: truce's events and findings again.
    decoded, buffer = [], rest
    while len([d for d in decoded if d["type"] not in REPLIES]) < 3:
        more, buffer, closed = await read_frames(reader, buffer, lambda e: True)
        decoded += more
        if closed:
            break
    # A detection in protobuf, as takproto frames it: the reply comes in protobuf too.
    writer.write(takproto.xml2proto(detection(source, uid="track-3", cot_type="a-h-G-E-V-A-T"),
                                    takproto.TAKProtoVer.STREAM))
    await writer.drain()
    more, buffer, _ = await read_frames(reader, buffer, lambda e: e["type"] in REPLIES)
    proto_notes = [proto_note(e) for e in more if e["type"] in REPLIES]
    # Then a frame that claims a megabyte: refused with its reason, and the stream closed.
    writer.write(bytes([0xBF, 0x80, 0x80, 0x40]) + b"x" * 100)
    await writer.drain()
    closed = False
    try:
        more, buffer, closed = await read_frames(reader, buffer, lambda e: False, timeout=10)
        proto_notes += [proto_note(e) for e in more if e["type"] in REPLIES]
    except (asyncio.TimeoutError, ConnectionError):
        pass
    decoded = [d for d in decoded if d["type"] not in REPLIES]
    writer.close()
    print(json.dumps({
        "closed_after_bad_frame": closed,
        "offer": len(offer),
        "xml_events": len(events),
        "finding": {"uid": finding.get("uid"), "type": finding.get("type"),
                    "how": finding.get("how"), "stale": finding.get("stale"),
                    "ce": point.get("ce"), "lat": point.get("lat"), "remarks": remarks},
        "notes": NOTES[:4],
        "protobuf_notes": proto_notes,
        "response": response,
        "protobuf": decoded,
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
