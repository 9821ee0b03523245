#!/usr/bin/env bash
# Loads Kito's demo market through the real API (and kitoctl for staff accounts), so the demo is
# made the way users make data: miners in Kenya, Tanzania, Zambia and Malawi with their
# associations, stones with signed valuation certificates that the miners offer to the organiser,
# a buyer, a timed sale and a live sale.
#   ops/demo-data.sh BASE_URL CA_FILE KITOCTL
# Runs only when the database has no accounts (so `ops/kito run` twice never loads it twice);
# KITO_DEMO_FORCE=1 loads it anyway (the browser tests load it into the shared test database).
# The environment carries KITO_MYSQL_* for kitoctl. Demo credentials are printed at the end.
set -euo pipefail
base=$1 ca=$2 kitoctl=$3

DEMO_PASSWORD=kito-demo-2026
DEMO_PIN=4826

die() { echo "demo data: $*" >&2; exit 1; }

# api METHOD PATH [TOKEN] [JSON]: prints the response body; fails unless the status is 2xx.
api() {
    local method=$1 path=$2 token=${3:-} body=${4:-} out status
    local args=(-sS --cacert "$ca" -X "$method" -w '\n%{http_code}' -H 'Accept: application/json')
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    out=$(curl "${args[@]}" "$base$path") || die "$method $path: no response"
    status=${out##*$'\n'}
    out=${out%$'\n'*}
    [[ $status == 2* ]] || die "$method $path answered $status: $out"
    printf '%s' "$out"
}

# kitoctl prints a header line, then one line per account
count=$("$kitoctl" account list | tail -n +2 | wc -l) || die "kitoctl cannot reach the database"
if [ "$count" -gt 0 ] && [ "${KITO_DEMO_FORCE:-0}" != 1 ]; then
    echo "demo data: the database already has accounts; nothing loaded" >&2
    exit 0
fi

# Royalty rates (DEMO-DATA.md; issue 7): every species of a country, rough unless said otherwise.
royalty() { "$kitoctl" royalty set --country "$1" --species '*' --form "$2" --rate-bps "$3" --source "$4" >/dev/null; }
royalty TZ rough 600 "Tanzania Mining Commission: 6% royalty on rough coloured gemstones"
royalty TZ cut 100 "Tanzania Mining Commission: 1% royalty on cut and polished gemstones"
royalty KE rough 600 "Kenya 2024 royalty regulations as reported in the Kenyan press (5% in 2013)"
royalty ZM rough 600 "Mines and Minerals Development Act (not verified)"
royalty MW rough 500 "not verified"

# Exchange rates for payouts in the miners' currencies (demo figures, not market quotes).
for pair in KES:129.50 TZS:2450.00 ZMW:26.40 MWK:1735.00; do
    "$kitoctl" fx set --from USD --to "${pair%%:*}" --rate "${pair#*:}" >/dev/null
done

staff() { # staff ROLE NAME EMAIL: an account made by the operator tool
    printf '%s\n' "$DEMO_PASSWORD" | "$kitoctl" account create --role "$1" --name "$2" --email "$3"
}
signin_email() { api POST /v1/sessions "" "$(jq -nc --arg e "$1" --arg p "$DEMO_PASSWORD" '{email:$e,password:$p}')" | jq -r .token; }
signin_phone() { api POST /v1/sessions "" "$(jq -nc --arg n "$1" --arg p "$DEMO_PIN" '{phone:$n,pin:$p}')" | jq -r .token; }

staff operator "Kito Operations" ops@kito.example >/dev/null
staff organizer "Arusha Gem Forum" forum@kito.example >/dev/null
staff valuer "Grace Achieng (valuer)" valuer@kito.example >/dev/null

asn_tz=$("$kitoctl" association create --name "TAWOMA (Tanzania Women Miners Association)" --country TZ --levy-bps 100)
asn_ke=$("$kitoctl" association create --name "AWEIK (Association of Women in Energy and Extractives in Kenya)" --country KE --levy-bps 0)
"$kitoctl" association create --name "Zambia Women in Mining" --country ZM --levy-bps 50 >/dev/null
"$kitoctl" association create --name "Women in Mining Malawi" --country MW --levy-bps 50 >/dev/null

miner() { # miner NAME PHONE RAIL [ASSOCIATION]: self-registration, as from a phone
    local body
    body=$(jq -nc --arg n "$1" --arg ph "$2" --arg pin "$DEMO_PIN" --arg rail "$3" --arg asn "${4:-}" \
        '{role:"miner",name:$n,phone:$ph,pin:$pin,locale:"sw",payout:{rail:$rail}}
         + (if $asn == "" then {} else {association_id:$asn} end)')
    api POST /v1/accounts "" "$body" | jq -r .id
}
m_tz=$(miner "Neema Mollel" +255754000101 mpesa "$asn_tz")
m_ke=$(miner "Wanjiru Kamau" +254712000202 mpesa "$asn_ke")
m_zm=$(miner "Mwila Banda" +260971000303 mtn_momo)
m_mw=$(miner "Chikondi Phiri" +265991000404 airtel_money)
api POST /v1/accounts "" "$(jq -nc --arg p "$DEMO_PASSWORD" \
    '{role:"buyer",name:"Lena Fischer (Fischer Fine Jewellery)",email:"buyer@kito.example",password:$p,country:"DE"}')" >/dev/null

valuer=$(signin_email valuer@kito.example)
forum=$(signin_email forum@kito.example)
buyer=$(signin_email buyer@kito.example)

# stone SELLER SPECIES VARIETY CARATS SHAPE COLOUR COUNTRY REGION SITE LOW HIGH: listed and
# certified by the valuer on the miner's behalf; prints the stone id.
stone() {
    local id body
    body=$(jq -nc --arg s "$1" --arg sp "$2" --arg v "$3" --arg w "$4" --arg sh "$5" --arg c "$6" \
        --arg co "$7" --arg r "$8" --arg site "$9" \
        '{seller_id:$s,species:$sp,variety:$v,weight_ct:$w,shape:$sh,colour:$c,
          origin:{country:$co,region:$r,site:$site}}')
    id=$(api POST /v1/stones "$valuer" "$body" | jq -r .id)
    body=$(jq -nc --arg sp "$2" --arg v "$3" --arg w "$4" --arg sh "$5" --arg c "$6" --arg co "$7" \
        --arg r "$8" --arg site "$9" --argjson lo "${10}" --argjson hi "${11}" \
        '{species:$sp,variety:$v,weight_ct:$w,shape:$sh,cutting_style:"mixed cut",color:$c,
          transparency:"transparent",treatment:"none detected",
          geographic_origin:{country:$co,region:$r,site:$site},
          estimated_value:{low:$lo,high:$hi,currency:"USD"},
          report_comments:"Demo certificate issued by Kito'"'"'s valuer."}')
    api POST "/v1/stones/$id/certificates" "$valuer" "$body" >/dev/null
    printf '%s' "$id"
}
s1=$(stone "$m_tz" zoisite tanzanite 4.12 cushion "violetish blue" TZ Manyara "Mirerani Block D" 120000 180000)
s2=$(stone "$m_ke" garnet tsavorite 2.35 oval "intense green" KE "Taita Taveta" Kasigau 90000 140000)
s3=$(stone "$m_zm" beryl emerald 3.08 "emerald cut" "bluish green" ZM Copperbelt "Kafubu" 150000 260000)
s4=$(stone "$m_mw" beryl aquamarine 7.45 oval "light blue" MW Mzimba "Chamalaza" 30000 52000)
s5=$(stone "$m_tz" spinel spinel 1.96 round "hot pink" TZ Morogoro Mahenge 60000 95000)
s6=$(stone "$m_ke" corundum ruby 1.21 oval "purplish red" KE Kwale Kasigau 70000 110000)

# Consent (DESIGN.md, "Settlement and payouts"): a stone goes into a sale only once its miner has
# offered it to the organiser; each miner signs in with her PIN and offers hers to the forum.
forum_id=$(api GET /v1/accounts/me "$forum" | jq -r .id)
offer() { # offer TOKEN STONE...: the miner offers each stone to the forum (any of its sales)
    local token=$1 s; shift
    for s in "$@"; do
        api POST "/v1/stones/$s/offers" "$token" "$(jq -nc --arg o "$forum_id" '{organizer_id:$o}')" >/dev/null
    done
}
offer "$(signin_phone +255754000101)" "$s1" "$s5"
offer "$(signin_phone +254712000202)" "$s2" "$s6"
offer "$(signin_phone +260971000303)" "$s3"
offer "$(signin_phone +265991000404)" "$s4"

now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# A timed online sale ending in three days, and a live trade-forum sale tomorrow.
timed=$(api POST /v1/sales "$forum" "$(jq -nc --arg s "$(iso $((now + 60)))" --arg e "$(iso $((now + 3 * 86400)))" \
    '{title:"Online: Tanzanite, Tsavorite and Spinel — December",online:true,format:"timed",currency:"USD",
      starts_at:$s,ends_at:$e,soft_close_s:120,stagger_s:60,buyer_premium_bps:1000,commission_bps:0,
      description:"A programme sale: miners pay no commission."}')" | jq -r .id)
live=$(api POST /v1/sales "$forum" "$(jq -nc --arg s "$(iso $((now + 86400)))" --arg e "$(iso $((now + 86400 + 4 * 3600)))" \
    '{title:"Arusha Gem Fair — live auction",online:false,venue:"Arusha International Conference Centre",
      format:"live",currency:"USD",starts_at:$s,ends_at:$e,buyer_premium_bps:1000,commission_bps:500}')" | jq -r .id)

lot() { api POST "/v1/sales/$1/lots" "$forum" "$(jq -nc --arg s "$2" --argjson o "$3" --argjson r "$4" \
    '{stone_id:$s,opening:$o} + (if $r > 0 then {reserve:$r} else {} end)')" >/dev/null; }
lot "$timed" "$s1" 60000 110000
lot "$timed" "$s2" 45000 0
lot "$timed" "$s5" 30000 55000
lot "$live" "$s3" 80000 140000
lot "$live" "$s4" 15000 0
lot "$live" "$s6" 35000 60000
api POST "/v1/sales/$timed/publish" "$forum" '{}' >/dev/null
api POST "/v1/sales/$live/publish" "$forum" '{}' >/dev/null

buyer_id=$(api GET /v1/accounts/me "$buyer" | jq -r .id)
for sale in "$timed" "$live"; do
    api POST "/v1/sales/$sale/registrations" "$buyer" '{}' >/dev/null
    api POST "/v1/sales/$sale/approvals" "$forum" "$(jq -nc --arg b "$buyer_id" '{buyer_id:$b}')" >/dev/null
done

cat <<EOF
Demo data loaded: 4 miners, 6 certified stones, a timed sale ($timed) and a live sale ($live).
  organiser  forum@kito.example / $DEMO_PASSWORD     valuer  valuer@kito.example / $DEMO_PASSWORD
  buyer      buyer@kito.example / $DEMO_PASSWORD     operator ops@kito.example / $DEMO_PASSWORD
  miners     +255754000101 +254712000202 +260971000303 +265991000404, PIN $DEMO_PIN
EOF
