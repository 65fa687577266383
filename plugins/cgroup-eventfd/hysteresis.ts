/**
 * Upward crossings of a threshold, without a storm while usage hovers around it: fires once when
 * usage reaches the threshold, and fires again only after usage has fallen below the re-arm level
 * (90 % of the threshold by default). cgroup v1 thresholds notify in both directions and v2 usage
 * is sampled, so each notification or sample is only a reading to feed in here.
 */
export const REARM_RATIO = 0.9;

export class Hysteresis {
  readonly rearmAt: number;
  private armed = true;

  constructor(
    readonly threshold: number,
    ratio = REARM_RATIO,
  ) {
    this.rearmAt = Math.floor(threshold * ratio);
  }

  /**
   * Feeds one reading; true when it is an upward crossing. Watching starts armed: usage already
   * above the threshold then fires once (a vassal started or reloaded above it is news too).
   */
  update(usage: number): boolean {
    if (this.armed && usage >= this.threshold) {
      this.armed = false;
      return true;
    }
    if (!this.armed && usage < this.rearmAt) this.armed = true;
    return false;
  }
}
