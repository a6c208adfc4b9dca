"""The command line: parse, call the core, render, and turn errors into exit codes."""
