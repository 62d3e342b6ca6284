import type { Metadata, Viewport } from "next";
import { Nav } from "@/components/Nav";
import { OfflineBanner } from "@/components/ui";
import "./globals.css";

export const metadata: Metadata = {
  title: "cryptofirm — trading desk",
  description: "A simulated crypto trading firm staffed by LLM agents",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#0b1018" };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Nav />
        <main className="page">
          <OfflineBanner />
          {children}
        </main>
      </body>
    </html>
  );
}
