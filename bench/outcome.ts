/**
 * What a measured step answers: `true` when it got the outcome the scenario expects, else a short description
 * of what it got instead. A scenario with any wrong outcome fails the bench, however fast it was.
 */
export type Check = true | string;

/** Counts wrong outcomes and keeps the first few descriptions. */
export class OutcomeTally {
  wrong = 0;
  checked = 0;
  readonly examples: string[] = [];

  record(check: Check): void {
    this.checked += 1;
    if (check === true) return;
    this.wrong += 1;
    if (this.examples.length < 3 && !this.examples.includes(check)) this.examples.push(check);
  }

  /** Problems to report; empty when every outcome was right. */
  failures(): string[] {
    if (this.checked === 0) return ['no outcome was checked'];
    return this.wrong === 0
      ? []
      : [`${this.wrong}/${this.checked} wrong outcomes: ${this.examples.join(' | ')}`];
  }
}
