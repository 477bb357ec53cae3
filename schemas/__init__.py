"""Pure translation: marshmallow schemas only, no I/O."""
