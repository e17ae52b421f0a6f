/**
 * Public holidays of a country (optionally a state: `DE-BY`, `US-CA`) from
 * date-holidays, a maintained rule set covering ~200 countries that needs
 * no download. Only `public` holidays count: observances (Mother's Day)
 * and `bank` days (Heiligabend in DE) are working days for a hospital.
 */
import type Holidays from "date-holidays";
import { dayNumber } from "@dicom-pipes/dimse/records";
import { UsageError } from "@dicom-pipes/dimse/cli";

/** The calendar of `spec`; date-holidays (13 MB of rules) is loaded only here, when asked for. */
export async function holidayCalendar(spec: string): Promise<Holidays> {
  const m = /^([A-Za-z]{2})(?:[-_:]([A-Za-z0-9]{1,4}))?$/.exec(spec.trim());
  if (!m)
    throw new UsageError(
      `--holidays: expected a country code like DE, CH or US (optionally with a state, e.g. DE-BY), got "${spec}"`,
    );
  const country = m[1]!.toUpperCase();
  const state = m[2]?.toUpperCase();
  const { default: HolidaysClass } = await import("date-holidays");
  const hd = new HolidaysClass();
  if (!hd.getCountries()[country])
    throw new UsageError(`--holidays: unknown country code "${country}"`);
  if (state !== undefined && !hd.getStates(country)?.[state])
    throw new UsageError(`--holidays: unknown state "${state}" of ${country}`);
  if (state !== undefined) hd.init(country, state);
  else hd.init(country);
  return hd;
}

/** Day numbers of the public holidays between two day numbers (inclusive). */
export function holidayDays(hd: Holidays, from: number, to: number): Set<number> {
  const days = new Set<number>();
  const y0 = new Date(from * 86_400_000).getUTCFullYear();
  const y1 = new Date(to * 86_400_000).getUTCFullYear();
  for (let y = y0; y <= y1; y++) {
    for (const h of hd.getHolidays(y)) {
      if (h.type !== "public") continue;
      const d = dayNumber(
        Number(h.date.slice(0, 4)),
        Number(h.date.slice(5, 7)),
        Number(h.date.slice(8, 10)),
      );
      if (d !== undefined && d >= from && d <= to) days.add(d);
    }
  }
  return days;
}
