#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Mutual TLS as the DNS TAPIR core deploys it: the broker requires a client
# certificate from a private CA and the module verifies the broker's. A
# broker whose certificate comes from another CA, or names another host, is
# never trusted, while Unbound keeps answering; the log and status say
# which certificate did not verify and why.
. "$top_srcdir/tests/integration/lib.sh"

pki="$T/pki"
mkdir -p "$pki"
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/$1.key" -out "$pki/$1.crt" -days 2 \
		-subj "/CN=$1" 2>/dev/null || fail "openssl ca $1"
}
# mkcert NAME CA SAN
mkcert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$1" \
		2>/dev/null || fail "openssl req $1"
	printf 'subjectAltName=%s\n' "$3" >"$pki/$1.ext"
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" \
		-CAkey "$pki/$2.key" -CAcreateserial -out "$pki/$1.crt" \
		-days 2 -extfile "$pki/$1.ext" 2>/dev/null ||
		fail "openssl x509 $1"
}
mkca tapir-ca
mkca other-ca
mkcert broker tapir-ca IP:127.0.0.1
mkcert resolver tapir-ca DNS:resolver.test
mkcert publisher tapir-ca DNS:core.test
# A broker certificate of the right CA for another name than 127.0.0.1.
mkcert elsewhere tapir-ca DNS:localhost
chmod 644 "$pki"/*.key
# The module's client key as enrolment would leave it for the daemon.
daemon_reads "$pki/resolver.key"

MOSQUITTO_EXTRA="cafile $pki/tapir-ca.crt
certfile $pki/broker.crt
keyfile $pki/broker.key
require_certificate true
use_identity_as_username true"
MQTT_PUB_OPTS="--cafile $pki/tapir-ca.crt --cert $pki/publisher.crt --key $pki/publisher.key"
MQTT_SCHEME=mqtts
MQTT_EXTRA="  ca-file: $pki/tapir-ca.crt
  cert-file: $pki/resolver.crt
  key-file: $pki/resolver.key"
start_all
ok "module connected over mutual TLS"
publish_observe tls1.example 16
blocked_within 2 tls1.example || fail "not blocked over TLS"
ok "observation over TLS applied"
grep -q "resolver" "$T/mosquitto.log" || fail "broker did not see the client cert"
ok "broker saw the resolver's certificate identity"

# A module that trusts another CA refuses this broker.
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
MQTT_EXTRA="  ca-file: $pki/other-ca.crt
  cert-file: $pki/resolver.crt
  key-file: $pki/resolver.key"
write_module_config
UNBOUND_PORT=$(free_port)
start_unbound
sleep 3
mqtt_connected && fail "connected to a broker of another CA"
[ "$(rcode good.example)" = NOERROR ] || fail "unbound not answering"
ok "broker of another CA refused; unbound answers"
# The reason reaches Unbound's log and status, not only "a TLS error": the
# broker sends its chain up to tapir-ca, a self-signed CA this module does
# not trust.
why='broker certificate did not verify: subject "CN=tapir-ca" issuer "CN=tapir-ca" depth 1: self-signed certificate in certificate chain (check mqtt ca-file)'
grep -qF "tapir-pop: mqtt: no connection to 127.0.0.1:$MQTT_PORT: A TLS error occurred.: $why (retrying in " "$T/unbound.log" ||
	fail "no certificate and reason in the log: $(grep 'tapir-pop: mqtt' "$T/unbound.log" | tail -n 3)"
"$CONTROL" -s "$T/tapir-pop.sock" status | grep -qxF "mqtt: disconnected (A TLS error occurred.: $why)" ||
	fail "no certificate and reason in status: $("$CONTROL" -s "$T/tapir-pop.sock" status | grep '^mqtt:')"
ok "the certificate and reason in the log and status: $(grep -o 'no connection to .*' "$T/unbound.log" | tail -n 1)"

# A broker whose certificate, from the right CA, is for another name: the
# host name check stays, for an address and for a name.
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
stop_mosquitto
MOSQUITTO_EXTRA="cafile $pki/tapir-ca.crt
certfile $pki/elsewhere.crt
keyfile $pki/elsewhere.key
require_certificate true
use_identity_as_username true"
MQTT_PORT=""
start_mosquitto
MQTT_EXTRA="  ca-file: $pki/tapir-ca.crt
  cert-file: $pki/resolver.crt
  key-file: $pki/resolver.key"
write_module_config
UNBOUND_PORT=$(free_port)
start_unbound
sleep 3
mqtt_connected && fail "connected to a broker certificate for localhost at 127.0.0.1"
[ "$(rcode good.example)" = NOERROR ] || fail "unbound not answering"
why='broker certificate did not verify: subject "CN=elsewhere" issuer "CN=tapir-ca" depth 0: IP address mismatch (check mqtt broker)'
grep -qF "tapir-pop: mqtt: no connection to 127.0.0.1:$MQTT_PORT: A TLS error occurred.: $why (retrying in " "$T/unbound.log" ||
	fail "no host name reason in the log: $(grep 'tapir-pop: mqtt' "$T/unbound.log" | tail -n 3)"
"$CONTROL" -s "$T/tapir-pop.sock" status | grep -qxF "mqtt: disconnected (A TLS error occurred.: $why)" ||
	fail "no host name reason in status: $("$CONTROL" -s "$T/tapir-pop.sock" status | grep '^mqtt:')"
ok "a certificate for another name refused, named in the log and status: $(grep -o 'no connection to .*' "$T/unbound.log" | tail -n 1)"

# The same broker by the name its certificate has is trusted.
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
write_module_config
sed -i "s|://127.0.0.1:|://localhost:|" "$T/tapir-pop.yaml"
grep -q "broker: mqtts://localhost:$MQTT_PORT" "$T/tapir-pop.yaml" || fail "no localhost broker"
daemon_reads "$T/tapir-pop.yaml"
UNBOUND_PORT=$(free_port)
start_unbound
wait_until 10 mqtt_connected || fail "not connected to localhost: $(grep 'tapir-pop: mqtt' "$T/unbound.log" | tail -n 3)"
ok "the broker by the name in its certificate is trusted"
