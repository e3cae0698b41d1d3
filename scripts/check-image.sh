#!/usr/bin/env bash
# The Dockerfile's build steps without Docker (there is no engine on the CI machines), in a temporary copy:
#   build stage:   the build context (.dockerignore applied), npm ci, npm run build
#   runtime stage: package manifests + patches, npm ci --omit=dev, the built output, migrations, persona.json
# then starts the runtime folder as an unprivileged user (as the image's USER node) with NODE_ENV=production
# on a fresh data folder and expects /ready to answer 200 and SIGTERM to end the process cleanly.
# hadolint lints the Dockerfile when it is on PATH.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/wcb-image.XXXXXX)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
say() { printf -- '--- %s\n' "$1"; }

if command -v hadolint >/dev/null; then
  say "hadolint"
  hadolint "$repo/Dockerfile"
else
  say "hadolint is not installed (no Debian 12 package; the npm 'hadolint' is a wrapper without the binary): Dockerfile not linted"
fi

say "build context (.dockerignore applied)"
excludes=()
while IFS= read -r line; do
  line="${line%%#*}"; line="${line%"${line##*[![:space:]]}"}"
  [ -z "$line" ] && continue
  excludes+=("--exclude=${line#\*\*/}")
done <"$repo/.dockerignore"
mkdir "$work/build"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar "${excludes[@]}" --null -T - -cf -) |
  tar -xf - -C "$work/build"
for f in tests docs bench .ci .git; do
  if [ -e "$work/build/$f" ]; then echo "the build context holds $f" >&2; exit 1; fi
done

say "build stage: npm ci, npm run build"
(cd "$work/build" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
# The image's node is 24; here the build's node@24 dev dependency stands in for it.
node_bin="$(cd "$work/build" && npm exec --no -- node -p process.execPath)"
mkdir "$work/bin" && cp "$node_bin" "$work/bin/node"
"$work/bin/node" -e 'if (+process.versions.node.split(".")[0] < 24) { console.error("node " + process.version); process.exit(1) }'

say "runtime stage: npm ci --omit=dev, the built output"
rt="$work/app"
mkdir -p "$rt/sdk"
cp "$work/build/package.json" "$work/build/package-lock.json" "$rt/"
cp "$work/build/sdk/package.json" "$rt/sdk/"
cp -r "$work/build/patches" "$rt/"
(cd "$rt" && NODE_ENV=production npm ci --omit=dev --no-audit --no-fund --loglevel=error)
cp -r "$work/build/dist" "$work/build/migrations" "$work/build/persona.json" "$rt/"
for dev in tsx esbuild vitest pino-pretty node; do
  if [ -e "$rt/node_modules/$dev" ]; then echo "the production install holds the dev package $dev" >&2; exit 1; fi
done
grep -q 'wcb: write after close' "$rt/node_modules/postgres/src/connection.js" ||
  { echo "patches/ was not applied to postgres" >&2; exit 1; }

say "start as an unprivileged user, NODE_ENV=production, fresh data folder"
mkdir "$work/data"
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown nobody:nogroup "$work/data"
  run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
port="$("$work/bin/node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
(cd "$rt" && exec env -i PATH="$work/bin:/usr/bin:/bin" HOME="$work/data" NODE_ENV=production HOST=127.0.0.1 \
  PORT="$port" DATA_DIR="$work/data" LOG_LEVEL=warn "${run_as[@]}" "$work/bin/node" --enable-source-maps \
  dist/server/main.js >"$work/server.log" 2>&1) &
server_pid=$!
status=000
for _ in $(seq 1 180); do
  status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready" || true)"
  [ "$status" = 200 ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
if [ "$status" != 200 ]; then
  echo "/ready answered $status" >&2; cat "$work/server.log" >&2; exit 1
fi
user="$(ps -o user= -p "$(pgrep -P "$server_pid" -n || echo "$server_pid")" | tr -d ' ')"
echo "/ready: 200 (server user: $user)"
if [ "$(id -u)" = 0 ] && [ "$user" = root ]; then echo "the server runs as root" >&2; exit 1; fi
kill -TERM "$server_pid"
wait "$server_pid" && code=0 || code=$?
server_pid=""
if [ "$code" != 0 ]; then echo "the server exited with $code on SIGTERM" >&2; cat "$work/server.log" >&2; exit 1; fi
echo "image check passed"
