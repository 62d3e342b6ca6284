import type { NextConfig } from "next";

// A static export: FastAPI serves web/out at `/` beside `/api`, so `make demo` is one process.
// trailingSlash gives every page its own `dir/index.html`, which StaticFiles(html=True) resolves.
const nextConfig: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
};

export default nextConfig;
