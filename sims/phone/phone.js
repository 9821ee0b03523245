// The demo's phone (issue 18): drives Kito's USSD menu through the SMS simulator's proxy
// (POST /kito-sim/ussd -> kitod's POST /v1/ussd, in Africa's Talking's format: the inputs so far
// joined by '*') and shows the SMS the simulator took for the number (GET /kito-sim/sms).
const STRINGS = {
  en: {
    title: "A miner's phone", lang: 'Kiswahili',
    lede: "What a miner sees on a basic phone: dial Kito's USSD menu and read the SMS Kito sent to this number. (Demo: the SMS gateway is a simulator.)",
    number: 'Phone number', dial: 'Dial *384*18#', screen: 'Screen', answer: 'Your answer',
    send: 'Send', hangup: 'Hang up', inbox: 'Messages (SMS)', empty: 'No SMS to this number yet.',
    bad_number: 'Type a number like +255712345678.', failed: 'The call failed: ', ended: '(The session ended. Dial again.)',
  },
  sw: {
    title: 'Simu ya mchimbaji', lang: 'English',
    lede: 'Anachoona mchimbaji kwenye simu ya kawaida: piga menyu ya USSD ya Kito na usome SMS ambazo Kito ilituma kwa namba hii. (Onyesho: lango la SMS ni la kuigiza.)',
    number: 'Namba ya simu', dial: 'Piga *384*18#', screen: 'Skrini', answer: 'Jibu lako',
    send: 'Tuma', hangup: 'Kata simu', inbox: 'Ujumbe (SMS)', empty: 'Bado hakuna SMS kwa namba hii.',
    bad_number: 'Andika namba kama +255712345678.', failed: 'Simu imeshindwa: ', ended: '(Kipindi kimeisha. Piga tena.)',
  },
};
let lang = 'en';
const t = (k) => STRINGS[lang][k] ?? STRINGS.en[k] ?? k;
function apply() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
}

const $ = (id) => document.getElementById(id);
let session = null; // {id, phone, text}

async function post(text) {
  const body = new URLSearchParams({ sessionId: session.id, phoneNumber: session.phone, text });
  const r = await fetch('/kito-sim/ussd', { method: 'POST', body });
  const reply = await r.text();
  if (!r.ok) throw new Error(`${r.status} ${reply}`);
  return reply;
}

function show(reply) {
  const end = reply.startsWith('END ');
  $('screen').textContent = reply.replace(/^(CON|END) /, '') + (end ? `\n\n${t('ended')}` : '');
  $('reply').hidden = end;
  if (end) session = null;
  else $('answer').focus();
  inbox();
}

async function step(input) {
  if (!session) return;
  session.text = input === null ? '' : (session.text === '' ? input : `${session.text}*${input}`);
  try {
    show(await post(session.text));
  } catch (e) {
    $('screen').textContent = t('failed') + e.message;
    session = null;
    $('reply').hidden = true;
  }
}

async function inbox() {
  const phone = $('number').value.trim();
  if (!/^\+[1-9][0-9]{7,14}$/.test(phone)) return;
  try {
    const r = await fetch(`/kito-sim/sms?phone=${encodeURIComponent(phone)}`);
    const list = (await r.json()).messages ?? [];
    $('inbox').replaceChildren(...list.slice().reverse().map((m) => {
      const li = document.createElement('li');
      li.textContent = m.message;
      return li;
    }));
    $('empty').hidden = list.length > 0;
  } catch { /* the next poll tries again */ }
}

$('dial').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const phone = $('number').value.trim();
  if (!/^\+[1-9][0-9]{7,14}$/.test(phone)) {
    $('screen').textContent = t('bad_number');
    return;
  }
  const rnd = crypto.getRandomValues(new Uint32Array(2));
  session = { id: `demo-${rnd[0].toString(36)}${rnd[1].toString(36)}`, phone, text: '' };
  step(null);
});
$('reply').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('answer').value;
  $('answer').value = '';
  step(v);
});
$('hangup').addEventListener('click', () => {
  session = null;
  $('reply').hidden = true;
  $('screen').textContent = '';
});
$('lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'sw' : 'en';
  apply();
});
const fromQuery = new URLSearchParams(location.search).get('phone');
if (fromQuery) $('number').value = fromQuery;
apply();
inbox();
setInterval(inbox, 3000);
