-- The USSD offer screen lists the draft sales of organisers a miner has offered a stone to
-- before (api/store/repo_phone.c, kito_phone_targets): her offers, by miner.
CREATE INDEX stone_offers_miner ON stone_offers (miner_id, organizer_id);
