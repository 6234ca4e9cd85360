"""Chat adapters: each platform's payloads become platform-neutral commands, replies become its format."""
