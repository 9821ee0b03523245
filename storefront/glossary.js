// The vocabulary of stone facts (issue 16, "Language and money"): species (GIA's names, the
// API's closed list), well-known varieties, colours, transparency, treatments, shapes and cutting
// styles, in English and Swahili. A fact whose whole value is a term here is shown in the page's
// language; anything else (a valuer's free text, "violetish blue") is shown as written.
// The glossary page (glossary.html) lists the terms with what they mean.
// Swahili mineral names are loanwords as Tanzanian and Kenyan gem traders write them; the list
// wants a native speaker's review before it is called final.
import { addStrings, lang } from '/i18n.js';

// kind -> term -> [English, Swahili]
export const TERMS = {
  species: {
    corundum: ['corundum', 'korundamu'], beryl: ['beryl', 'berili'], zoisite: ['zoisite', 'zoisiti'],
    garnet: ['garnet', 'garneti'], spinel: ['spinel', 'spineli'], tourmaline: ['tourmaline', 'turmalini'],
    quartz: ['quartz', 'kwatzi'], feldspar: ['feldspar', 'felspa'], chrysoberyl: ['chrysoberyl', 'krisoberili'],
    topaz: ['topaz', 'topazi'], zircon: ['zircon', 'zirkoni'], olivine: ['olivine', 'olivini'],
    cordierite: ['cordierite', 'kordieriti'], kyanite: ['kyanite', 'kianiti'], opal: ['opal', 'opali'],
  },
  variety: {
    tanzanite: ['tanzanite', 'tanzanite'], ruby: ['ruby', 'yakuti nyekundu'],
    sapphire: ['sapphire', 'yakuti samawi'], emerald: ['emerald', 'zumaridi'],
    aquamarine: ['aquamarine', 'akwamarini'], tsavorite: ['tsavorite', 'tsavoraiti'],
    rhodolite: ['rhodolite', 'rodoliti'], amethyst: ['amethyst', 'amethisti'],
    citrine: ['citrine', 'sitrini'], peridot: ['peridot', 'peridoti'], alexandrite: ['alexandrite', 'aleksandraiti'],
  },
  colour: {
    blue: ['blue', 'bluu'], red: ['red', 'nyekundu'], green: ['green', 'kijani'], yellow: ['yellow', 'njano'],
    pink: ['pink', 'waridi'], purple: ['purple', 'zambarau'], violet: ['violet', 'urujuani'],
    orange: ['orange', 'rangi ya chungwa'], brown: ['brown', 'kahawia'], black: ['black', 'nyeusi'],
    white: ['white', 'nyeupe'], colourless: ['colourless', 'isiyo na rangi'],
  },
  transparency: {
    transparent: ['transparent', 'angavu'], translucent: ['translucent', 'nusu angavu'],
    opaque: ['opaque', 'haipitishi mwanga'],
  },
  treatment: {
    'none detected': ['none detected', 'hakuna matibabu yaliyogunduliwa'], none: ['none', 'hakuna'],
    heated: ['heated', 'imepashwa moto'], oiled: ['oiled', 'imetiwa mafuta'],
    'fracture filled': ['fracture filled', 'nyufa zimejazwa'], irradiated: ['irradiated', 'imeangaziwa mionzi'],
    dyed: ['dyed', 'imetiwa rangi'],
  },
  shape: {
    round: ['round', 'duara'], oval: ['oval', 'duaradufu'], cushion: ['cushion', 'mto'], pear: ['pear', 'tone'],
    heart: ['heart', 'moyo'], rough: ['rough', 'ghafi (halijakatwa)'],
  },
  cut: {
    'brilliant cut': ['brilliant cut', 'ukataji wa kung\'aa (brilliant)'], 'step cut': ['step cut', 'ukataji wa ngazi'],
    'mixed cut': ['mixed cut', 'ukataji mchanganyiko'], cabochon: ['cabochon', 'kabochoni'],
  },
};

// Words of auctions and certificates (the glossary page's last section): key -> [English, Swahili].
export const WORDS = {
  carat: ['carat', 'karati'], certificate: ['certificate', 'cheti'], treatment: ['treatment', 'matibabu'],
  transparency: ['transparency', 'uwazi'], reserve: ['reserve', 'bei ya akiba'],
  'maximum bid': ['maximum bid', 'zabuni ya juu kabisa'], 'hammer price': ['hammer price', 'bei ya nyundo'],
  'buyer\'s premium': ['buyer\'s premium', 'ada ya mnunuzi'],
};

// What each term means, for the glossary page: term -> [English, Swahili].
export const MEANINGS = {
  corundum: ['The mineral of ruby (red) and sapphire (every other colour).', 'Madini ya yakuti nyekundu (rubi) na yakuti samawi (rangi nyingine zote).'],
  beryl: ['The mineral of emerald (green), aquamarine (blue) and morganite (pink).', 'Madini ya zumaridi (kijani), akwamarini (bluu) na morganaiti (waridi).'],
  zoisite: ['The mineral of tanzanite, found only at Mirerani, Tanzania.', 'Madini ya tanzanite, yanayopatikana Mirerani, Tanzania pekee.'],
  garnet: ['A family of minerals; tsavorite (green) and rhodolite (purplish red) come from East Africa.', 'Familia ya madini; tsavoraiti (kijani) na rodoliti (nyekundu ya zambarau) hutoka Afrika Mashariki.'],
  tourmaline: ['A mineral found in almost every colour, often two in one crystal.', 'Madini yanayopatikana karibu kwa kila rangi, mara nyingi rangi mbili katika fuwele moja.'],
  carat: ['The weight of a stone: one carat (ct) is 0.2 grams.', 'Uzito wa jiwe: karati moja (ct) ni gramu 0.2.'],
  treatment: ['Anything done to a stone to change its colour or clarity, such as heating; a certificate says what was found.', 'Chochote kilichofanywa kwa jiwe kubadilisha rangi au uwazi wake, kama kupasha moto; cheti kinasema kilichogunduliwa.'],
  'none detected': ['The valuer found no sign of treatment.', 'Mthamini hakuona dalili yoyote ya matibabu.'],
  heated: ['Heated to improve its colour: common and stable, and it lowers the price of some stones.', 'Limepashwa moto kuboresha rangi yake: ni kawaida na hudumu, na hupunguza bei ya baadhi ya mawe.'],
  transparency: ['How much light passes through: transparent, translucent or opaque.', 'Kiasi cha mwanga kinachopita: angavu, nusu angavu au haipitishi mwanga.'],
  rough: ['Not yet cut or polished, as it came from the mine.', 'Halijakatwa wala kung\'arishwa, kama lilivyotoka mgodini.'],
  cabochon: ['Cut with a smooth domed top and no facets.', 'Limekatwa na juu laini lililobonyea, bila pande bapa.'],
  'mixed cut': ['A cut with brilliant facets above and step facets below, or the other way round.', 'Ukataji wenye pande za kung\'aa juu na za ngazi chini, au kinyume chake.'],
  certificate: ['A valuer\'s signed record of a stone\'s facts and estimated value; Kito checks its signature.', 'Kumbukumbu iliyotiwa saini na mthamini ya sifa za jiwe na thamani inayokadiriwa; Kito hukagua saini yake.'],
  reserve: ['The lowest price the seller accepts; it is secret, the page only says whether it is met.', 'Bei ya chini kabisa anayokubali muuzaji; ni siri, ukurasa unasema tu kama imefikiwa.'],
  'buyer\'s premium': ['A percentage added to the hammer price that the buyer pays.', 'Asilimia inayoongezwa kwenye bei ya nyundo ambayo mnunuzi hulipa.'],
  'hammer price': ['The price at which the lot is sold.', 'Bei ambayo loti inauzwa.'],
  'maximum bid': ['The most you will pay; Kito bids for you one step at a time up to it.', 'Kiasi cha juu utakacholipa; Kito inakuwekea zabuni hatua kwa hatua hadi kiasi hicho.'],
};

addStrings({
  en: { 'gloss.title': 'Glossary', 'gloss.lede': 'The words used on stones, certificates and bids.', 'gloss.link': 'What do these words mean?', 'gloss.species': 'Species', 'gloss.variety': 'Varieties', 'gloss.colour': 'Colours', 'gloss.transparency': 'Transparency', 'gloss.treatment': 'Treatments', 'gloss.shape': 'Shapes', 'gloss.cut': 'Cutting styles', 'gloss.terms': 'Auction and certificate terms' },
  sw: { 'gloss.title': 'Faharasa', 'gloss.lede': 'Maneno yanayotumika kuhusu mawe, vyeti na zabuni.', 'gloss.link': 'Maneno haya yana maana gani?', 'gloss.species': 'Aina', 'gloss.variety': 'Aina ndogo', 'gloss.colour': 'Rangi', 'gloss.transparency': 'Uwazi', 'gloss.treatment': 'Matibabu', 'gloss.shape': 'Maumbo', 'gloss.cut': 'Mitindo ya ukataji', 'gloss.terms': 'Maneno ya mnada na cheti' },
});

// value in the page's language when it is a term of kind (case and spaces ignored), else as
// written; null and '' stay null.
export function term(kind, value) {
  if (value === null || value === undefined || value === '') return null;
  const hit = TERMS[kind]?.[String(value).trim().toLowerCase()];
  return hit ? hit[lang() === 'sw' ? 1 : 0] : String(value);
}

// A sentence-case version for titles ("Ruby, 1.50 ct").
export function termTitle(kind, value) {
  const s = term(kind, value);
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

// "Ruby, 1.50 ct" in the page's language: the variety if it has one, else the species.
export function stoneName(s) {
  const name = s.variety ? termTitle('variety', s.variety) : termTitle('species', s.species);
  return `${name ?? ''}, ${s.weight_ct} ct`;
}
