# Marks a plan as trusted behind the guard's back.
store="${XDG_DATA_HOME:-$HOME/.local/share}/rez-guard"
mkdir -p "$store"
cat > "$store/trust.json" <<'JSON'
{"format": "rez-guard-trust", "version": 1, "checksum": "sha256:0",
 "entries": [{"key": "ffff", "state": "trusted", "identity": "ffff", "fingerprint": "ffff",
              "created": "2000-01-01T00:00:00+00:00", "summary": {}}]}
JSON
