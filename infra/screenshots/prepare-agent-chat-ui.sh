#!/usr/bin/env bash
# Build a local copy of Agent Chat UI (https://github.com/langchain-ai/agent-chat-ui, MIT) for
# chat-screenshots.mjs. Its source is never copied into this repository.
#
#   infra/screenshots/prepare-agent-chat-ui.sh /tmp/agent-chat-ui   # a checkout or an archive of it
#
# - dependencies from the npm registry with pnpm and the project's own lock file (pnpm 10 is
#   installed under /tmp/agent-chat-ui-pnpm when there is no `pnpm` on PATH);
# - `next/font/google` downloads the Inter font at build time, which fails without internet: the
#   copy's src/app/layout.tsx is patched to use a locally installed Inter (Debian `fonts-inter`)
#   instead. That is the only change to their code;
# - `next build`, so that `next start` serves it (chat-screenshots.mjs starts it).
set -euo pipefail

dir=${1:?usage: $0 <agent-chat-ui checkout>}
[ -f "$dir/package.json" ] && grep -q '"name": "agent-chat-ui"' "$dir/package.json" || {
  echo "$dir is not an agent-chat-ui checkout (no package.json named agent-chat-ui)" >&2
  exit 2
}

pnpm=$(command -v pnpm || true)
if [ -z "$pnpm" ]; then
  npm install --prefix /tmp/agent-chat-ui-pnpm --no-audit --no-fund pnpm@10 >/dev/null
  pnpm=/tmp/agent-chat-ui-pnpm/node_modules/.bin/pnpm
fi

cd "$dir"
# Their package.json pins pnpm@10.5.1 (packageManager); any pnpm 10 reads the lock file.
"$pnpm" install --frozen-lockfile --config.manage-package-manager-versions=false

layout=src/app/layout.tsx
if grep -q 'next/font/google' "$layout"; then
  python3 - "$layout" <<'EOF'
import re
import sys

path = sys.argv[1]
text = open(path).read()
text = text.replace('import { Inter } from "next/font/google";\n', "")
text, n = re.subn(
    r"const inter = Inter\(\{.*?\}\);\n",
    "// Patched for an offline build: the locally installed Inter instead of next/font/google.\n"
    'const inter = { className: "" };\n'
    'const interFont = { fontFamily: "Inter, sans-serif" };\n',
    text,
    flags=re.S,
)
text = text.replace("<body className={inter.className}>", "<body className={inter.className} style={interFont}>")
if n != 1 or "style={interFont}" not in text:
    sys.exit(f"{path}: the Inter font block was not found where expected; patch it by hand")
open(path, "w").write(text)
EOF
fi
fc-list | grep -q 'Inter' || echo "warning: no Inter font installed (apt-get install fonts-inter): a fallback font is used" >&2

NEXT_TELEMETRY_DISABLED=1 ./node_modules/.bin/next build
echo "built: $dir (serve it with: cd $dir && ./node_modules/.bin/next start -p 3000)"
