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
  },
  sw: {
    'lang.switch': 'English',
    'home.title': 'Vito kutoka kwa wanawake wanaovichimba',
    'home.lede': 'Vito vilivyothibitishwa kutoka kwa wachimbaji wadogo wa Kenya, Tanzania, Zambia na Malawi, vinauzwa kwa mnada kwa wanunuzi kote duniani.',
    'status.title': 'Hali ya soko',
    'status.checking': 'Inakagua…',
    'status.ok': 'Soko liko wazi: zabuni na malipo yanafanya kazi.',
    'status.degraded': 'Baadhi ya huduma hazipatikani; tafadhali jaribu tena baadaye.',
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
