"""The pure core: model, parsing, validation, templating and the journal format. No I/O, no SDKs."""
