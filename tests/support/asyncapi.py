"""Checking a frame against the AsyncAPI document (realtime/asyncapi.py)."""

from jsonschema import Draft202012Validator


def validator_for(document: dict, frame_type: str, direction: str) -> Draft202012Validator:
    """The JSON Schema validator of one frame type's payload; `direction` is
    "client" (frames the client sends) or "server"."""
    prefix = "client" if direction == "client" else "server"
    name = prefix + "".join(part.title() for part in frame_type.split("."))
    schema = {"components": document["components"], "$ref": f"#/components/messages/{name}/payload"}
    return Draft202012Validator(schema)
