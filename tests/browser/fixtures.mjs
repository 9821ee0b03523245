// What the browser tests arrange through the API and kitoctl, as an organiser, a valuer and a miner
// would (not the buyer's journey they test): an organiser, a certified stone offered to her, a
// short timed sale.
import { execFileSync } from 'node:child_process';

// market(kitod, run, password): helpers bound to one kitod; run makes e-mail addresses unique.
export function market(kitod, run, PASSWORD) {
  function kitoctl(args, input) {
    return execFileSync(`${process.env.KITO_TEST_BUILD}/api/kitoctl`, args, {
      env: { ...process.env, ...kitod.mysqlEnv }, input, encoding: 'utf8',
    }).trim();
  }
  const signIn = async (email) =>
    (await kitod.api('POST', '/v1/sessions', null, { email, password: PASSWORD })).token;
  let forum = null, organiser = null;

  return {
    kitoctl,
    get organiserToken() { return forum; },
    signIn,
    // The organiser's bearer token (made once).
    async organiser() {
      if (forum) return forum;
      kitoctl(['account', 'create', '--role', 'organizer', '--name', 'Test Forum', '--email', `forum-${run}@kito.test`], `${PASSWORD}\n`);
      forum = await signIn(`forum-${run}@kito.test`);
      organiser = await kitod.api('GET', '/v1/accounts/me', forum);
      return forum;
    },
    // A certified stone offered to the organiser: a valuer lists and certifies it for a miner.
    // o: another species, variety, weight_ct, colour or treatment than the tanzanite's; photo:
    // a JPEG's bytes to upload.
    async stone(o = {}) {
      const f = { species: 'zoisite', variety: 'tanzanite', weight_ct: '3.40', colour: 'violetish blue',
        treatment: 'none detected', ...o };
      await this.organiser();
      kitoctl(['royalty', 'set', '--country', 'TZ', '--species', '*', '--form', 'rough', '--rate-bps', '600',
        '--source', 'browser test']);
      const n = Math.floor(Math.random() * 1e6);
      kitoctl(['account', 'create', '--role', 'valuer', '--name', 'Test Valuer', '--email', `valuer-${run}-${n}@kito.test`], `${PASSWORD}\n`);
      const valuer = await signIn(`valuer-${run}-${n}@kito.test`);
      const phone = `+2557${String(Date.now() + n).slice(-8)}`;
      const miner = await kitod.api('POST', '/v1/accounts', null,
        { role: 'miner', name: 'Neema Test', phone, pin: '4826', payout: { rail: 'mpesa' } });
      const stone = await kitod.api('POST', '/v1/stones', valuer, {
        seller_id: miner.id, species: f.species, variety: f.variety, weight_ct: f.weight_ct, shape: 'cushion',
        colour: f.colour, origin: { country: 'TZ', region: 'Manyara', site: 'Mirerani' },
      });
      await kitod.api('POST', `/v1/stones/${stone.id}/certificates`, valuer, {
        species: f.species, variety: f.variety, weight_ct: f.weight_ct, shape: 'cushion', cutting_style: 'mixed cut',
        color: f.colour, transparency: 'transparent', treatment: f.treatment,
        geographic_origin: { country: 'TZ', region: 'Manyara', site: 'Mirerani' },
        estimated_value: { low: 50000, high: 90000, currency: 'USD' },
      });
      if (f.photo) await kitod.upload(`/v1/stones/${stone.id}/photos`, valuer, f.photo, 'image/jpeg');
      const minerToken = (await kitod.api('POST', '/v1/sessions', null, { phone, pin: '4826' })).token;
      await kitod.api('POST', `/v1/stones/${stone.id}/offers`, minerToken, { organizer_id: organiser.id });
      return stone.id;
    },
    // A published timed sale of one lot (opening US$100 unless said), opening in startS seconds
    // and ending durationS later, no soft close; { sale, lot }.
    // more: further lots, [{ opening, ...stone(o)'s o }].
    async sale(title, startS, durationS, opening = 10000, more = []) {
      await this.organiser();
      const stoneId = await this.stone();
      const others = []; // made before the times are set: each takes a while (scrypt)
      for (const { opening: o, ...stone } of more) others.push({ id: await this.stone(stone), opening: o });
      const now = Date.now();
      const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
      const sale = await kitod.api('POST', '/v1/sales', forum, {
        title, online: true, format: 'timed', currency: 'USD',
        starts_at: iso(now + startS * 1000), ends_at: iso(now + (startS + durationS) * 1000), soft_close_s: 0,
        buyer_premium_bps: 1000, commission_bps: 0,
      });
      const lot = await kitod.api('POST', `/v1/sales/${sale.id}/lots`, forum, { stone_id: stoneId, opening });
      const lots = [lot];
      for (const o of others) {
        lots.push(await kitod.api('POST', `/v1/sales/${sale.id}/lots`, forum, { stone_id: o.id, opening: o.opening }));
      }
      await publish(kitod, forum, sale.id, startS, durationS);
      return { sale, lot, lots };
    },
  };
}

// Publishes a draft timed sale. A timed sale must start in the future when it is published; on a
// loaded machine the seconds between making it and publishing it can outlast its lead (a full run
// saw a 1 s lead gone: 409). Then its times move to startS seconds from now, durationS long, and it
// is published again.
export async function publish(kitod, token, saleId, startS, durationS) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kitod.api('POST', `/v1/sales/${saleId}/publish`, token, {});
    } catch (e) {
      if (attempt === 3 || !/must be in the future/.test(e.message)) throw e;
      const now = Date.now();
      const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
      await kitod.api('PATCH', `/v1/sales/${saleId}`, token,
        { starts_at: iso(now + startS * 1000 + 1000), ends_at: iso(now + (startS + durationS) * 1000 + 1000) });
    }
  }
}
