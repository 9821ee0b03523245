// Every string the user sees goes through this table (CONVENTIONS.md, "The storefront").
const STRINGS = {
  en: {
    'lang.switch': 'Kiswahili',
    'home.title': 'Gemstones from the women who mine them',
    'home.lede': 'Certified stones from artisanal miners in Kenya, Tanzania, Zambia and Malawi, sold at auction to buyers everywhere.',
    'status.title': 'Market status',
    'status.checking': 'Checking…',
    'status.ok': 'Open: bidding and payments are working.',
    'status.degraded': 'Some services are unavailable; please try again shortly.',
    'page.loading': 'Loading…',
    'error.not_found': 'Not found.',
    'error.generic': 'Something went wrong; please try again.',
    'sales.title': 'Sales',
    'sales.none': 'No sales are open yet.',
    'format.timed': 'Timed online auction',
    'format.tender': 'Sealed-bid tender',
    'format.live': 'Live auction',
    'sale.online': 'Online',
    'sale.lots': 'lots',
    'sale.starts': 'Starts',
    'sale.ends': 'Ends',
    'sale.premium': "Buyer's premium",
    'sale.lots_title': 'Lots',
    'lot.price': 'Current bid',
    'lot.opening': 'Opening',
    'lot.ask': 'Next bid',
    'lot.ends': 'Ends',
    'lot.reserve': 'Reserve',
    'lot.no_reserve': 'No reserve',
    'lot.reserve_met': 'Reserve met',
    'lot.reserve_not_met': 'Reserve not yet met',
    'lot.back': '← Back to the sale',
    'cert.title': 'Valuation certificate',
    'cert.genuine': 'Genuine: signed by Kito and current',
    'cert.superseded': 'Genuine, but superseded by a correction',
    'cert.not_genuine': 'NOT genuine: the signature does not match',
    'cert.species': 'Species',
    'cert.weight': 'Weight',
    'cert.shape': 'Shape and cut',
    'cert.color': 'Colour',
    'cert.transparency': 'Transparency',
    'cert.treatment': 'Treatment',
    'cert.origin': 'Origin',
    'cert.estimate': 'Estimated value',
    'cert.valuer': 'Valued by',
    'cert.chain_ok': "The stone's history (found, valued, listed) is intact.",
    'cert.chain_broken': "The stone's history has been altered.",
  },
  sw: {
    'lang.switch': 'English',
    'home.title': 'Vito kutoka kwa wanawake wanaovichimba',
    'home.lede': 'Vito vilivyothibitishwa kutoka kwa wachimbaji wadogo wa Kenya, Tanzania, Zambia na Malawi, vinauzwa kwa mnada kwa wanunuzi kote duniani.',
    'status.title': 'Hali ya soko',
    'status.checking': 'Inakagua…',
    'status.ok': 'Soko liko wazi: zabuni na malipo yanafanya kazi.',
    'status.degraded': 'Baadhi ya huduma hazipatikani; tafadhali jaribu tena baadaye.',
    'page.loading': 'Inapakia…',
    'error.not_found': 'Haikupatikana.',
    'error.generic': 'Hitilafu imetokea; tafadhali jaribu tena.',
    'sales.title': 'Minada',
    'sales.none': 'Bado hakuna minada iliyo wazi.',
    'format.timed': 'Mnada wa mtandaoni wenye muda',
    'format.tender': 'Zabuni ya siri',
    'format.live': 'Mnada wa moja kwa moja',
    'sale.online': 'Mtandaoni',
    'sale.lots': 'loti',
    'sale.starts': 'Unaanza',
    'sale.ends': 'Unaisha',
    'sale.premium': 'Ada ya mnunuzi',
    'sale.lots_title': 'Loti',
    'lot.price': 'Zabuni ya sasa',
    'lot.opening': 'Bei ya kuanzia',
    'lot.ask': 'Zabuni inayofuata',
    'lot.ends': 'Inaisha',
    'lot.reserve': 'Bei ya akiba',
    'lot.no_reserve': 'Hakuna bei ya akiba',
    'lot.reserve_met': 'Bei ya akiba imefikiwa',
    'lot.reserve_not_met': 'Bei ya akiba bado haijafikiwa',
    'lot.back': '← Rudi kwenye mnada',
    'cert.title': 'Cheti cha uthamini',
    'cert.genuine': 'Halali: kimetiwa saini na Kito na ni cha sasa',
    'cert.superseded': 'Halali, lakini kimebadilishwa na marekebisho',
    'cert.not_genuine': 'SI halali: saini hailingani',
    'cert.species': 'Aina',
    'cert.weight': 'Uzito',
    'cert.shape': 'Umbo na ukataji',
    'cert.color': 'Rangi',
    'cert.transparency': 'Uwazi',
    'cert.treatment': 'Matibabu',
    'cert.origin': 'Asili',
    'cert.estimate': 'Thamani inayokadiriwa',
    'cert.valuer': 'Imethaminiwa na',
    'cert.chain_ok': 'Historia ya jiwe (lilipopatikana, lilipothaminiwa, lilipoorodheshwa) iko kamili.',
    'cert.chain_broken': 'Historia ya jiwe imebadilishwa.',
  },
};

export function lang() {
  const saved = localStorage.getItem('kito.lang');
  return saved in STRINGS ? saved : 'en';
}

export function t(key) {
  return STRINGS[lang()][key] ?? STRINGS.en[key] ?? key;
}

export function setLang(code) {
  if (!(code in STRINGS)) return;
  localStorage.setItem('kito.lang', code);
  apply();
}

// Re-renders every element that carries data-i18n.
export function apply(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}
