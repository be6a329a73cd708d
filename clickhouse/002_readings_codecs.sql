-- Column codecs shrink readings several times over; servers before 19.11 (Debian's 18.16) lack
-- them, so the runner applies these statements only where the engine supports them.

-- @min-version 20.3
ALTER TABLE readings_raw MODIFY COLUMN ts Int64 CODEC(DoubleDelta, ZSTD(1));

-- @min-version 20.3
ALTER TABLE readings_raw MODIFY COLUMN value Float64 CODEC(Gorilla, ZSTD(1));

-- @min-version 20.3
ALTER TABLE readings_raw MODIFY COLUMN received_at Int64 CODEC(Delta, ZSTD(1));
