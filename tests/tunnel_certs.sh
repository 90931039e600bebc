#!/bin/sh
# Test PKI for the tunnel tests, made fresh in directory $1 (never committed):
#   ca        the BGW CA
#   server    TLS server purpose, IP 127.0.0.1 and ::1
#   alice     client, CN alice             (registered)
#   bob       client, CN bob               (valid but no such user)
#   carol     client, CN carol             (revoked by the test's callback)
#   dave      client, CN dave, expired in 2020
#   srvclient server cert used as a client (wrong purpose)
#   rogueca   another CA; rogue = a server cert from it
set -e
d=$1
[ -n "$d" ] && [ -d "$d" ] || { echo "usage: $0 DIR" >&2; exit 2; }
cd "$d"
umask 077
key() { certtool --generate-privkey --key-type ecdsa --outfile "$1.key" 2>/dev/null; }
tmpl() { printf '%s\n' "$@" > t.tmpl; }

ca() {	# name cn
	key "$1"
	tmpl "cn = \"$2\"" ca cert_signing_key "expiration_days = 2"
	certtool --generate-self-signed --load-privkey "$1.key" --template t.tmpl \
		--outfile "$1.crt" 2>/dev/null
}
issue() {	# name ca template-lines...
	n=$1; c=$2; shift 2
	key "$n"
	tmpl "$@"
	certtool --generate-certificate --load-privkey "$n.key" \
		--load-ca-certificate "$c.crt" --load-ca-privkey "$c.key" \
		--template t.tmpl --outfile "$n.crt" 2>/dev/null
}

ca ca "bgw test CA"
ca rogueca "rogue CA"
issue server ca 'cn = "bgw"' tls_www_server signing_key \
	'ip_address = "127.0.0.1"' 'ip_address = "::1"' "expiration_days = 2"
issue rogue rogueca 'cn = "bgw"' tls_www_server signing_key \
	'ip_address = "127.0.0.1"' "expiration_days = 2"
for u in alice bob carol; do
	issue "$u" ca "cn = \"$u\"" tls_www_client signing_key "expiration_days = 2"
done
issue dave ca 'cn = "dave"' tls_www_client signing_key \
	'activation_date = "2020-01-01 00:00:00"' \
	'expiration_date = "2020-02-01 00:00:00"'
issue srvclient ca 'cn = "alice"' tls_www_server signing_key "expiration_days = 2"
rm -f t.tmpl
