#!/usr/bin/env bash
# A first call against a running emboss (npm start): get a token, sign requests, add a customer,
# an account and a card. Needs curl, openssl and node. Usage: examples/first-call.sh [base-url]
set -euo pipefail
usage() {
  echo "usage: $0 [BASE_URL]   (default http://127.0.0.1:3000)"
  echo "  Calls a running emboss (npm start) as its demo API client, whose credentials are in"
  echo "  \$EMBOSS_DATA_DIR/demo-credentials.json (EMBOSS_DATA_DIR defaults to ./.emboss)."
}
case ${1:-} in -h|--help) usage; exit 0 ;; -*) usage >&2; exit 64 ;; esac
[ $# -le 1 ] || { usage >&2; exit 64; }
BASE=${1:-http://127.0.0.1:3000}
CREDS=${EMBOSS_DATA_DIR:-./.emboss}/demo-credentials.json
if [ ! -r "$CREDS" ]; then
  echo "$0: no $CREDS: start emboss first (npm start), with the same EMBOSS_DATA_DIR, and run this from its folder" >&2
  usage >&2
  exit 66
fi
echo "emboss at $BASE (demo credentials from $CREDS)" >&2
field() { node -p "require('$(realpath "$CREDS")').$1"; }
CLIENT_ID=$(field clientId); APIKEY=$(field apikey); SECRET=$(field secret); ORG=$(field organizationNumber); LOGO=$(field logo)

# 1. Token: client credentials by Basic auth.
TOKEN=$(curl -sf -X POST "$BASE/token" -u "$CLIENT_ID:$SECRET" -d grant_type=client_credentials \
  | node -p 'JSON.parse(require("fs").readFileSync(0,"utf8")).access_token')

# 2. A signed call: signature = Base64(HMAC-SHA256(secret, apikey + timestamp + body + path)).
call() { # method path body
  local method=$1 path=$2 body=${3:-} ts sig
  ts=$(node -p 'Date.now()')
  sig=$(printf '%s' "$APIKEY$ts$body$path" | openssl dgst -sha256 -hmac "$SECRET" -binary | openssl base64 -A)
  curl -s -X "$method" "$BASE$path" \
    -H "Authorization: Bearer $TOKEN" -H "apikey: $APIKEY" -H "x-timestamp: $ts" \
    -H "x-request-id: $(node -p 'crypto.randomUUID()')" -H "x-hmac-signature: $sig" \
    -H 'content-type: application/json' ${body:+--data "$body"}
}

CUSTOMER=$(call POST /customer/l8v2 "{\"customerData\":{\"customerKeyData\":{\"organizationNumber\":$ORG,\"customerNumber\":\"\"},\"ownerCoOwnerData\":{\"ownerData\":{\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"nameLine1\":\"ADA LOVELACE\",\"dateOfBirth\":\"1985-12-10\",\"countryCode\":\"USA\"}}}}")
echo "customer add: $CUSTOMER"
CUSTOMER_NUMBER=$(node -p "JSON.parse(process.argv[1]).customerNumber" "$CUSTOMER")

ACCOUNT=$(call POST /account/add-L8V3 "{\"accountData\":{\"organization\":$ORG,\"logo\":$LOGO,\"customerNumber\":\"$CUSTOMER_NUMBER\",\"creditLimit\":5000,\"billingCycle\":15,\"shortName\":\"ADA LOVELACE\"}}")
echo "account add:  $ACCOUNT"
ACCOUNT_NUMBER=$(node -p "JSON.parse(process.argv[1]).accountNumber" "$ACCOUNT")

# A card on the account: number from the logo's BIN, PIN generated, a plastic for the bureau.
# (The answer shows the PAN token; the number itself comes through card-pan, under the client's card-number key.)
echo "card add:     $(call POST /cards/embosser/l8vf "{\"organizationNumber\":$ORG,\"postToAccount\":\"$ACCOUNT_NUMBER\",\"cardNumber\":\"\",\"embossedName1\":\"ADA LOVELACE\"}")"

# A GET signs an empty body; the path includes any query string.
TS=$(node -p 'Date.now()')
SIG=$(printf '%s' "$APIKEY$TS/account/v2/accounts" | openssl dgst -sha256 -hmac "$SECRET" -binary | openssl base64 -A)
echo "account inquiry: $(curl -s "$BASE/account/v2/accounts" -H "Authorization: Bearer $TOKEN" -H "apikey: $APIKEY" \
  -H "x-timestamp: $TS" -H "x-request-id: $(node -p 'crypto.randomUUID()')" -H "x-hmac-signature: $SIG" \
  -H "organization-number: $ORG" -H "account-number: $ACCOUNT_NUMBER")"
