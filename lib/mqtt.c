/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libmosquitto glue. mosquitto_lib_init() is not thread-safe: it runs once
 * per process, in tapir_lib_init().
 *
 * The network thread is ours, not mosquitto_loop_start()'s: libmosquitto's
 * own loop gives up for good when the very first connect fails (a broker
 * that is down while Unbound starts), and its stop is either a wait for a
 * reconnect delay or pthread_cancel. Ours runs mosquitto_loop() with a
 * short timeout, reconnects with exponential backoff, and checks a stop
 * flag at least every LOOP_MS, so deinit joins it within that bound.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/mqtt.h"

#define LOOP_MS	       200
/* The same connection failure is logged again after this long. */
#define FAILURE_LOG_MS (5 * 60 * 1000)
/* Subscriptions one connect makes at most: a topic of every source. */
#define MAX_SUBS       (TAPIR_MAX_SOURCES * TAPIR_MAX_TOPICS)

/* A SUBSCRIBE waiting for its SUBACK: what it asked for. */
struct pending_sub {
	int mid;
	int qos;
	const char *topic; /* the configuration's */
};

struct tapir_mqtt {
	const struct tapir_config *cfg;
	struct mosquitto *mosq;
	tapir_mqtt_msg_fn on_msg;
	tapir_mqtt_state_fn on_state;
	void *arg;
	_Atomic int protocol; /* enum tapir_mqtt_protocol */
	_Atomic bool stop;
	_Atomic bool up;     /* CONNACK accepted since the last connect */
	int pending_subacks; /* network thread only */
	/* Network thread only: the SUBSCRIBEs of the last connect, and the
	 * lowest QoS granted to them (reported with "subscribed"). */
	struct pending_sub subs[MAX_SUBS];
	int n_subs;
	int granted_min;
	bool granted_less; /* some subscription got less than it asked */
	bool logged_grant; /* ... and that was logged (once per load) */
	pthread_t thread;
	bool started;
	/* Network thread only: libmosquitto's last error line (the TLS
	 * library's reason, for one), told with the next failure. */
	char last_error[256];
	/* Network thread only (verify_cb() runs in the TLS handshake, inside
	 * a connect or mosquitto_loop() there): the broker certificate that
	 * did not verify, and why, told with the next failure instead of
	 * OpenSSL's "certificate verify failed". */
	char cert_failure[256];
	/* Network thread only: the failure last logged, and when. */
	char logged[320];
	int64_t logged_ms;
	/* The outbox: one report waiting to be published by the network
	 * thread (a newer one replaces it). Covered by olock. */
	pthread_mutex_t olock;
	char *out_topic;
	void *out_buf;
	size_t out_len;
};

/* mosquitto_publish(), replaceable by tests to see which thread calls it. */
int (*tapir__mqtt_publish_fn)(struct mosquitto *mosq, int *mid,
	const char *topic, int payloadlen, const void *payload, int qos,
	bool retain) = mosquitto_publish;

int
tapir_mqtt_lib_init(void)
{
	return mosquitto_lib_init() == MOSQ_ERR_SUCCESS ? 0 : TAPIR_EIO;
}

/*
 * Only the network thread touches libmosquitto once it runs: a report is
 * left in the outbox and published there, between two rounds of
 * mosquitto_loop() (LOOP_MS apart at most). libmosquitto called from two
 * threads would write to one socket, and with TLS use one SSL object,
 * from both.
 */
int
tapir_mqtt_publish(
	struct tapir_mqtt *m, const char *topic, const void *buf, size_t len)
{
	char *t;
	void *b;

	if (!atomic_load(&m->up))
		return TAPIR_EIO;
	if (!(t = strdup(topic)) || !(b = malloc(len ? len : 1))) {
		free(t);
		return TAPIR_ENOMEM;
	}
	memcpy(b, buf, len);
	pthread_mutex_lock(&m->olock);
	free(m->out_topic);
	free(m->out_buf);
	m->out_topic = t;
	m->out_buf = b;
	m->out_len = len;
	pthread_mutex_unlock(&m->olock);
	return 0;
}

void
tapir__mqtt_flush_outbox(struct tapir_mqtt *m)
{
	char *topic;
	void *buf;
	size_t len;
	int rc;

	pthread_mutex_lock(&m->olock);
	topic = m->out_topic;
	buf = m->out_buf;
	len = m->out_len;
	m->out_topic = NULL;
	m->out_buf = NULL;
	pthread_mutex_unlock(&m->olock);
	if (!topic)
		return;
	rc = tapir__mqtt_publish_fn(
		m->mosq, NULL, topic, (int)len, buf, 0, false);
	if (rc != MOSQ_ERR_SUCCESS)
		tapir_log(TAPIR_LOG_DEBUG, "mqtt: publish to %s: %s", topic,
			mosquitto_strerror(rc));
	free(topic);
	free(buf);
}

enum tapir_mqtt_protocol
tapir_mqtt_protocol(const struct tapir_mqtt *m)
{
	return (enum tapir_mqtt_protocol)atomic_load(&m->protocol);
}

/*
 * The CONNECT properties of every connect to come: under v5 a maximum
 * packet size, so that the broker itself never sends a message whose
 * payload is over limits.max-message-size (it drops it, or disconnects a
 * QoS 1/2 subscriber that would need it: better than reading 256 MiB that
 * submit() then refuses), and the session expiry interval
 * (mqtt.session-expiry; clean start is off then, see tapir_mqtt_create()):
 * without it a v5 broker ends the session at the disconnect, and the
 * messages published while the module is away are lost. Under 3.1.1 none
 * (libmosquitto refuses to connect with properties): clean session off
 * alone keeps the session there, for as long as the broker's
 * persistent_client_expiration says.
 *
 * libmosquitto 2.0 keeps the properties given to mosquitto_connect_bind_v5()
 * and sends them on each later connect, mosquitto_connect_async() and
 * reconnects included (its ChangeLog for 2.0.0: "Fix connect properties
 * not being sent when the client automatically reconnects"), but it has
 * no asynchronous v5 connect, and a blocking one would hold deinit up for
 * a TCP timeout. It stores (or, given NULL, frees) the properties before
 * it looks at the host, so a call without a host changes them and returns
 * MOSQ_ERR_INVAL, with no network activity. Not documented: checked by
 * tests/unit/test_mqtt.c test_connect_asks_for_maximum_packet_size, which
 * reads the CONNECT packets of a first connect, a reconnect and a fall
 * back to 3.1.1.
 */
static void
set_connect_properties(struct tapir_mqtt *m, enum tapir_mqtt_protocol p)
{
	mosquitto_property *props = NULL;
	uint32_t max = (uint32_t)(m->cfg->limits.max_message_size +
				  TAPIR_MQTT_PACKET_OVERHEAD);
	int rc;

	if (p == TAPIR_MQTT_V5 &&
		(mosquitto_property_add_int32(&props,
			 MQTT_PROP_MAXIMUM_PACKET_SIZE,
			 max) != MOSQ_ERR_SUCCESS ||
			(m->cfg->mqtt.session_expiry > 0 &&
				mosquitto_property_add_int32(&props,
					MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					(uint32_t)
						m->cfg->mqtt.session_expiry) !=
					MOSQ_ERR_SUCCESS))) {
		mosquitto_property_free_all(&props);
		tapir_log(TAPIR_LOG_WARN,
			"mqtt: no connect properties: out of memory");
		return;
	}
	rc = mosquitto_connect_bind_v5(m->mosq, NULL, 0, 0, NULL, props);
	if (rc != MOSQ_ERR_INVAL)
		tapir_log(TAPIR_LOG_WARN,
			"mqtt: setting the connect properties: %s",
			mosquitto_strerror(rc));
	mosquitto_property_free_all(&props);
}

static void
set_protocol(struct tapir_mqtt *m, enum tapir_mqtt_protocol p)
{
	atomic_store(&m->protocol, p);
	if (m->mosq) {
		mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			p == TAPIR_MQTT_V5 ? MQTT_PROTOCOL_V5
					   : MQTT_PROTOCOL_V311);
		set_connect_properties(m, p);
	}
}

/* "connected (MQTT v5), subscribed at QoS 1, session kept 3600 s": what
 * status shows, so that an operator sees whether messages published while
 * the module is away will wait for it. */
static void
report_up(struct tapir_mqtt *m)
{
	const struct tapir_config *cfg = m->cfg;
	char reason[160], qos[64] = "", session[48];

	if (m->n_subs)
		snprintf(qos, sizeof(qos), " at QoS %d%s", m->granted_min,
			m->granted_less ? " (less than asked)" : "");
	if (cfg->mqtt.session_expiry > 0)
		snprintf(session, sizeof(session), "session kept %d s",
			cfg->mqtt.session_expiry);
	else
		snprintf(session, sizeof(session), "clean session");
	snprintf(reason, sizeof(reason),
		"connected (MQTT %s), subscribed%s, %s",
		tapir_mqtt_protocol(m) == TAPIR_MQTT_V5 ? "v5" : "3.1.1", qos,
		session);
	if (m->on_state)
		m->on_state(m->arg, true, reason);
}

void
tapir__mqtt_on_subscribed(struct tapir_mqtt *m, int mid, int granted)
{
	for (int i = 0; i < m->n_subs; i++) {
		const struct pending_sub *s = &m->subs[i];
		if (s->mid != mid)
			continue;
		if (granted >= 0x80)
			break; /* refused: logged by cb_subscribe */
		if (granted < m->granted_min)
			m->granted_min = granted;
		if (granted >= s->qos)
			break;
		/* A broker may grant less (mosquitto's max_qos): at QoS 0
		 * it keeps nothing for us while we are away. */
		m->granted_less = true;
		if (!m->logged_grant) {
			tapir_log(TAPIR_LOG_WARN,
				"mqtt: the broker granted QoS %d for %s, "
				"qos %d was asked: messages published while "
				"the module is disconnected may be lost",
				granted, s->topic, s->qos);
			m->logged_grant = true;
		}
		break;
	}
	if (m->pending_subacks > 0 && --m->pending_subacks == 0)
		report_up(m);
}

void
tapir__mqtt_on_connect(struct tapir_mqtt *m, int rc)
{
	const struct tapir_config *cfg = m->cfg;
	char reason[128];

	if (rc != 0) {
		/* A 3.1.1-only broker answers a v5 CONNECT with "protocol
		 * version refused": retry in 3.1.1 when not pinned. */
		if ((rc == CONNACK_REFUSED_PROTOCOL_VERSION ||
			    rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION) &&
			cfg->mqtt.protocol == TAPIR_MQTT_AUTO &&
			tapir_mqtt_protocol(m) == TAPIR_MQTT_V5) {
			tapir_log(TAPIR_LOG_WARN,
				"mqtt: broker refused MQTT v5, using 3.1.1");
			set_protocol(m, TAPIR_MQTT_V311);
		}
		snprintf(reason, sizeof(reason), "connect refused: %s",
			mosquitto_connack_string(rc));
		if (m->on_state)
			m->on_state(m->arg, false, reason);
		return;
	}
	atomic_store(&m->up, true);
	m->pending_subacks = 0;
	m->n_subs = 0;
	m->granted_min = 2;
	m->granted_less = false;
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *s = &cfg->sources[i];
		if (s->type != TAPIR_SOURCE_MQTT)
			continue;
		for (size_t t = 0; t < s->n_topics; t++) {
			int mid = 0;
			int r = m->mosq ? mosquitto_subscribe(m->mosq, &mid,
						  s->topics[t], s->qos)
					: MOSQ_ERR_SUCCESS;
			if (r != MOSQ_ERR_SUCCESS) {
				tapir_log(TAPIR_LOG_ERR,
					"mqtt: subscribe to %s failed: %s",
					s->topics[t], mosquitto_strerror(r));
				continue;
			}
			if (!m->mosq)
				continue;
			m->pending_subacks++;
			if (m->n_subs < MAX_SUBS)
				m->subs[m->n_subs++] =
					(struct pending_sub){ .mid = mid,
						.qos = s->qos,
						.topic = s->topics[t] };
		}
	}
	/* "Connected" means messages flow: reported once the broker has
	 * acknowledged every subscription (or at once without any). */
	if (m->pending_subacks == 0)
		report_up(m);
}

void
tapir__mqtt_on_message(
	struct tapir_mqtt *m, const char *topic, const void *payload, int len)
{
	if (len < 0)
		return;
	m->on_msg(m->arg, tapir_mqtt_source_for_topic(m->cfg, topic), topic,
		payload, (size_t)len);
}

int
tapir_mqtt_source_for_topic(const struct tapir_config *cfg, const char *topic)
{
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *s = &cfg->sources[i];
		if (s->type != TAPIR_SOURCE_MQTT)
			continue;
		for (size_t t = 0; t < s->n_topics; t++) {
			bool match = false;
			if (mosquitto_topic_matches_sub(s->topics[t], topic,
				    &match) == MOSQ_ERR_SUCCESS &&
				match)
				return (int)i;
		}
	}
	return -1;
}

static void
cb_connect(struct mosquitto *mosq, void *obj, int rc)
{
	tapir__mqtt_on_connect(obj, rc);
}

static void
cb_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
	const int *granted_qos)
{
	struct tapir_mqtt *m = obj;

	for (int i = 0; i < qos_count; i++)
		if (granted_qos[i] >= 0x80)
			tapir_log(TAPIR_LOG_ERR,
				"mqtt: the broker refused a subscription "
				"(reason 0x%02x)",
				granted_qos[i]);
	/* One topic per SUBSCRIBE (tapir__mqtt_on_connect()). */
	tapir__mqtt_on_subscribed(m, mid, qos_count > 0 ? granted_qos[0] : 0);
}

/* libmosquitto 2.0.11 (Debian 12) names a lost keep-alive "Unknown
 * error.", the reason a silent network cut is noticed by: say what it
 * means. */
static const char *
rc_text(int rc)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror(errno);
	if (rc == MOSQ_ERR_KEEPALIVE)
		return "no reply from the broker within mqtt.keepalive";
	return mosquitto_strerror(rc);
}

static void
cb_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct tapir_mqtt *m = obj;
	char reason[128];

	snprintf(reason, sizeof(reason), "disconnected: %s",
		rc == 0 ? "requested" : rc_text(rc));
	if (m->on_state)
		m->on_state(m->arg, false, reason);
}

static void
cb_message(
	struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	tapir__mqtt_on_message(obj, msg->topic, msg->payload, msg->payloadlen);
}

/* libmosquitto's own lines: its errors carry the reason its return codes
 * do not ("A TLS error occurred." alone tells an operator nothing; the
 * line before says "certificate verify failed"). Kept for the failure
 * report, and logged at debug level. */
static void
cb_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	struct tapir_mqtt *m = obj;

	if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)))
		return;
	tapir_log(TAPIR_LOG_DEBUG, "mqtt: %s", str);
	if (m && (level & MOSQ_LOG_ERR))
		snprintf(m->last_error, sizeof(m->last_error), "%s", str);
}

/* A certificate name on one line, as RFC 2253 writes it: control
 * characters, bytes above 0x7f and the quote are escaped ("\0A", "\""),
 * so a broker's name cannot break the log line or its quotes. Cut to fit. */
static void
name_text(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, buf, (int)size - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

/* Where an operator looks first, by the reason. */
static const char *
cert_hint(int verify_error)
{
	switch (verify_error) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		return " (check mqtt ca-file)";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return " (check mqtt broker)";
	default:
		return "";
	}
}

/*
 * OpenSSL's verify callback for the broker's chain (and its name, checked
 * by OpenSSL at depth 0: tls_setup()). It returns ok unchanged, which is
 * what OpenSSL does without a callback: the first failure ends the
 * handshake. It only notes that failure while OpenSSL still knows the
 * certificate and the depth; once the handshake has failed, the reason is
 * all that is left ("certificate verify failed"), and libmosquitto frees
 * the SSL object at once when the failure comes inside a connect.
 */
static int
verify_cb(int ok, X509_STORE_CTX *vctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		vctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tapir_mqtt *m;
	X509 *cert;
	int error;
	char subject[64] = "", issuer[64] = "";

	if (ok || !ssl || !(m = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))))
		return ok;
	error = X509_STORE_CTX_get_error(vctx);
	if ((cert = X509_STORE_CTX_get_current_cert(vctx))) {
		name_text(
			X509_get_subject_name(cert), subject, sizeof(subject));
		name_text(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	}
	/* Cut when a name is long: one line still. */
	if (snprintf(m->cert_failure, sizeof(m->cert_failure),
		    "broker certificate did not verify: subject \"%s\" "
		    "issuer \"%s\" depth %d: %s%s",
		    subject, issuer, X509_STORE_CTX_get_error_depth(vctx),
		    X509_verify_cert_error_string(error), cert_hint(error)) < 0)
		m->cert_failure[0] = '\0';
	return ok;
}

/* No passphrase prompt on Unbound's terminal: an encrypted key file is
 * refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

/*
 * The TLS context this client hands libmosquitto: the one libmosquitto
 * 2.0 would make itself from these files (net__init_ssl_ctx(): TLS 1.2 at
 * least, no compression, the broker verified against ca-file or else the
 * system's trust store, the client certificate and key), plus verify_cb()
 * to name the certificate that fails.
 *
 * The broker's name (or address) in its certificate is checked by
 * OpenSSL (X509_check_host(), X509_check_ip_asc()) rather than by
 * libmosquitto's verify callback, which a context of our own does not
 * get: with MOSQ_OPT_SSL_CTX_WITH_DEFAULTS it would, but libmosquitto
 * 2.0.11 (Debian 12) then never sets up the SSL index that callback finds
 * its client by, and refuses every broker (fixed in 2.0.15). The rules
 * are libmosquitto's or stricter: a DNS name matches a subjectAltName DNS
 * entry, or the common name when there is none; a wildcard covers one
 * whole leftmost label ("*.example.net", not "b*.example.net"); an IP
 * address matches a subjectAltName IP entry only (libmosquitto also took
 * a common name spelling the address).
 */
static int
tls_setup(struct tapir_mqtt *m, struct tapir_error *err)
{
	const struct tapir_config *cfg = m->cfg;
	const char *host = cfg->mqtt.host;
	const char *key = NULL, *file = NULL;
	unsigned char addr[16];
	X509_VERIFY_PARAM *param;
	SSL_CTX *ctx;
	unsigned long e;
	int rc = TAPIR_ECONFIG;

	ERR_clear_error();
	if (!(ctx = SSL_CTX_new(TLS_client_method()))) {
		tapir_error_set(
			err, TAPIR_ENOMEM, 0, "mqtt: TLS: out of memory");
		return TAPIR_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (cfg->mqtt.ca_file) {
		if (SSL_CTX_load_verify_locations(
			    ctx, cfg->mqtt.ca_file, NULL) != 1)
			key = "ca-file", file = cfg->mqtt.ca_file;
	} else if (SSL_CTX_load_verify_locations(ctx, NULL, "/etc/ssl/certs") !=
		   1) {
		key = "trust store", file = "/etc/ssl/certs";
	}
	if (!key && cfg->mqtt.cert_file &&
		SSL_CTX_use_certificate_chain_file(ctx, cfg->mqtt.cert_file) !=
			1)
		key = "cert-file", file = cfg->mqtt.cert_file;
	if (!key && cfg->mqtt.key_file &&
		(SSL_CTX_use_PrivateKey_file(
			 ctx, cfg->mqtt.key_file, SSL_FILETYPE_PEM) != 1 ||
			SSL_CTX_check_private_key(ctx) != 1))
		key = "key-file", file = cfg->mqtt.key_file;
	if (key) {
		e = ERR_peek_last_error();
		tapir_error_set(err, TAPIR_ECONFIG, 0,
			"mqtt: TLS files: %s %s: %s", key, file,
			e ? ERR_reason_error_string(e) : "not usable");
		goto out_free;
	}
	param = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(
		param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((inet_pton(AF_INET, host, addr) == 1 ||
		    inet_pton(AF_INET6, host, addr) == 1)
			? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1
			: X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
		tapir_error_set(err, TAPIR_ECONFIG, 0,
			"mqtt: TLS: cannot check the broker's name %s", host);
		goto out_free;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_app_data(ctx, m);
	/* Defaults off: libmosquitto would replace verify_cb. */
	if (mosquitto_int_option(m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) !=
			MOSQ_ERR_SUCCESS ||
		mosquitto_void_option(m->mosq, MOSQ_OPT_SSL_CTX, ctx) !=
			MOSQ_ERR_SUCCESS) {
		tapir_error_set(err, TAPIR_ECONFIG, 0,
			"mqtt: TLS: libmosquitto was built without TLS");
		goto out_free;
	}
	rc = 0;
out_free:
	ERR_clear_error();
	/* libmosquitto holds a reference of its own. */
	SSL_CTX_free(ctx);
	return rc;
}

/* A connection that failed or was lost: logged with its real reason, once
 * per distinct reason every FAILURE_LOG_MS (a broker down for hours
 * leaves a line every few minutes, not one per retry), and told to the
 * engine for status. */
static void
report_failure(struct tapir_mqtt *m, int rc, int retry_s)
{
	const struct tapir_config *cfg = m->cfg;
	char reason[sizeof(m->logged)];
	int64_t now = tapir_monotonic_ms();
	/* A certificate that did not verify ends this attempt's handshake:
	 * what verify_cb() noted is this failure's reason. */
	const char *detail =
		m->cert_failure[0] ? m->cert_failure : m->last_error;

	if (detail[0])
		snprintf(reason, sizeof(reason), "%s: %s", rc_text(rc), detail);
	else
		snprintf(reason, sizeof(reason), "%s", rc_text(rc));
	m->last_error[0] = '\0';
	m->cert_failure[0] = '\0';
	if (strcmp(reason, m->logged) != 0 ||
		now - m->logged_ms >= FAILURE_LOG_MS) {
		tapir_log(TAPIR_LOG_WARN,
			"mqtt: no connection to %s:%d: %s (retrying in %d s)",
			cfg->mqtt.host, cfg->mqtt.port, reason, retry_s);
		snprintf(m->logged, sizeof(m->logged), "%s", reason);
		m->logged_ms = now;
	}
	if (m->on_state)
		m->on_state(m->arg, false, reason);
}

struct tapir_mqtt *
tapir_mqtt_create(const struct tapir_config *cfg, tapir_mqtt_msg_fn on_msg,
	tapir_mqtt_state_fn on_state, void *arg, struct tapir_error *err)
{
	struct tapir_mqtt *m = calloc(1, sizeof(*m));
	int rc;

	if (!m) {
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->olock, NULL);
	m->cfg = cfg;
	m->on_msg = on_msg;
	m->on_state = on_state;
	m->arg = arg;
	atomic_init(&m->protocol, cfg->mqtt.protocol == TAPIR_MQTT_V311
					  ? TAPIR_MQTT_V311
					  : TAPIR_MQTT_V5);
	/* Clean session (3.1.1) or clean start (v5) off unless
	 * session-expiry is 0: the broker keeps our subscriptions and queues
	 * the QoS 1 messages published while we are away (an Unbound reload
	 * or restart, a network cut), under a client id that stays the same
	 * across both (the configured one, else tapir-pop-<hostname>). */
	if (!(m->mosq = mosquitto_new(
		      cfg->mqtt.client_id, cfg->mqtt.session_expiry == 0, m))) {
		tapir_error_set(err, TAPIR_ENOMEM, 0, "mosquitto_new failed");
		goto out_free;
	}
	set_protocol(m, tapir_mqtt_protocol(m));
	/* Our own thread runs the loop: libmosquitto's internal locks on. */
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_connect_callback_set(m->mosq, cb_connect);
	mosquitto_disconnect_callback_set(m->mosq, cb_disconnect);
	mosquitto_subscribe_callback_set(m->mosq, cb_subscribe);
	mosquitto_message_callback_set(m->mosq, cb_message);
	mosquitto_log_callback_set(m->mosq, cb_log);
	if (cfg->mqtt.tls && (rc = tls_setup(m, err)) != 0)
		goto out_destroy;
	return m;

out_destroy:
	mosquitto_destroy(m->mosq);
out_free:
	pthread_mutex_destroy(&m->olock);
	free(m);
	return NULL;
}

/* Whether a failure was the broker being away (nothing listening, no
 * route, the connection dropped) rather than a broker that answered and
 * refused (TLS, authentication, protocol): only then does the backoff
 * look every second for the broker to be back. A broker that refuses is
 * not asked again sooner than the backoff says. */
static bool
broker_away(int rc, int err)
{
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
		return true;
	return rc == MOSQ_ERR_ERRNO &&
	       (err == ECONNREFUSED || err == ECONNRESET || err == EPIPE ||
		       err == EHOSTUNREACH || err == ENETUNREACH ||
		       err == ETIMEDOUT);
}

/* Whether something accepts a TCP connection at the broker's address
 * now: one non-blocking connect per address, within timeout_ms each,
 * closed at once. */
static bool
broker_listens(const struct tapir_config *cfg, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char port[8];
	bool up = false;

	snprintf(port, sizeof(port), "%d", cfg->mqtt.port);
	if (getaddrinfo(cfg->mqtt.host, port, &hints, &res) != 0)
		return false;
	for (ai = res; ai && !up; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
			ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			up = true;
		else if (errno == EINPROGRESS && poll(&p, 1, timeout_ms) == 1 &&
			 getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) ==
				 0 &&
			 soerr == 0)
			up = true;
		close(fd);
	}
	freeaddrinfo(res);
	return up;
}

/* Sleep up to seconds, waking early when asked to stop; with probe, also
 * as soon as the broker accepts connections again (checked once a
 * second), so that a broker back after a long outage is not left waiting
 * for the rest of a backoff of up to reconnect-max. */
static void
backoff_sleep(struct tapir_mqtt *m, int seconds, bool probe)
{
	const int per_s = 1000 / LOOP_MS;

	for (int i = 0; i < seconds * per_s; i++) {
		struct timespec ts = { 0, LOOP_MS * 1000000L };
		if (atomic_load(&m->stop))
			return;
		nanosleep(&ts, NULL);
		if (probe && (i + 1) % per_s == 0 && i + 1 < seconds * per_s &&
			broker_listens(m->cfg, LOOP_MS)) {
			tapir_log(TAPIR_LOG_INFO,
				"mqtt: %s:%d accepts connections again: "
				"reconnecting now",
				m->cfg->mqtt.host, m->cfg->mqtt.port);
			return;
		}
	}
}

static void *
mqtt_main(void *arg)
{
	struct tapir_mqtt *m = arg;
	const struct tapir_config *cfg = m->cfg;
	int delay = cfg->mqtt.reconnect_min;
	int rc, err;
	bool away;

	tapir_thread_background("tapir-mqtt");

	rc = mosquitto_connect_async(
		m->mosq, cfg->mqtt.host, cfg->mqtt.port, cfg->mqtt.keepalive);
	err = errno;
	while (!atomic_load(&m->stop)) {
		if (rc == MOSQ_ERR_SUCCESS) {
			tapir__mqtt_flush_outbox(m);
			rc = mosquitto_loop(m->mosq, LOOP_MS, 1);
			err = errno;
			if (rc == MOSQ_ERR_SUCCESS) {
				if (atomic_load(&m->up))
					delay = cfg->mqtt.reconnect_min;
				continue;
			}
		}
		/* The connection failed or was lost: wait, then retry,
		 * doubling the wait up to reconnect-max. */
		atomic_store(&m->up, false);
		away = broker_away(rc, err);
		errno = err;
		report_failure(m, rc, delay);
		backoff_sleep(m, delay, away);
		if (atomic_load(&m->stop))
			break;
		delay = delay * 2 > cfg->mqtt.reconnect_max
				? cfg->mqtt.reconnect_max
				: delay * 2;
		rc = mosquitto_reconnect_async(m->mosq);
		err = errno;
	}
	return NULL;
}

int
tapir_mqtt_start(struct tapir_mqtt *m)
{
	if (pthread_create(&m->thread, NULL, mqtt_main, m) != 0) {
		tapir_log(TAPIR_LOG_ERR, "mqtt: cannot start thread");
		return TAPIR_EIO;
	}
	m->started = true;
	return 0;
}

void
tapir_mqtt_stop(struct tapir_mqtt *m)
{
	if (!m || !m->started)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	m->started = false;
	atomic_store(&m->up, false);
	/* The thread is gone: a clean DISCONNECT from this one. Without a
	 * session expiry property of its own (v5 would take it over the
	 * CONNECT's, and 0 ends the session) the broker keeps the session
	 * for session-expiry seconds: an Unbound reload comes back to it. */
	mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	mosquitto_loop(m->mosq, 0, 1);
}

void
tapir_mqtt_destroy(struct tapir_mqtt *m)
{
	if (!m)
		return;
	tapir_mqtt_stop(m);
	mosquitto_destroy(m->mosq);
	free(m->out_topic);
	free(m->out_buf);
	pthread_mutex_destroy(&m->olock);
	free(m);
}
