// The consoles' shared strings (navigation, sign-in, errors), English and Swahili.
import { addStrings } from '/i18n.js';

addStrings({
  en: {
    'console.title': 'Kito console',
    'console.nav': 'Console',
    'console.nav.sales': 'My sales',
    'console.nav.valuer': 'Valuation queue',
    'console.wrong_role': 'This page is for another kind of account. Sign out and sign in with the right one.',
    'console.forbidden': 'You may not do this.',
    'console.no_consent': "Its miner has not offered this stone to you, so it cannot go into your sale.",
    'console.saved': 'Saved.',
    'console.more': 'Show more',
    'console.none': 'Nothing here yet.',
    'console.cancel': 'Cancel',
    'console.err.amount': 'Write an amount, like 250 or 250.50.',
  },
  sw: {
    'console.title': 'Dashibodi ya Kito',
    'console.nav': 'Dashibodi',
    'console.nav.sales': 'Minada yangu',
    'console.nav.valuer': 'Foleni ya tathmini',
    'console.wrong_role': 'Ukurasa huu ni wa aina nyingine ya akaunti. Toka kisha uingie kwa akaunti sahihi.',
    'console.forbidden': 'Huruhusiwi kufanya hivi.',
    'console.no_consent': 'Mchimbaji wake hajakupa jiwe hili, kwa hiyo haliwezi kuingia kwenye mnada wako.',
    'console.saved': 'Imehifadhiwa.',
    'console.more': 'Onyesha zaidi',
    'console.none': 'Bado hakuna kitu hapa.',
    'console.cancel': 'Ghairi',
    'console.err.amount': 'Andika kiasi, kama 250 au 250.50.',
  },
});
