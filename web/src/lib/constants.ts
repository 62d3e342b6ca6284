export const INTERVALS = ["15m", "1h", "4h", "1d"] as const;
export const DEFAULT_SYMBOL = "BTCUSDT";
export const DEFAULT_INTERVAL = "1h";
