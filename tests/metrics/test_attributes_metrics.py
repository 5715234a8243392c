import numpy as np

from gan_jax.metrics import attributes as attribute_metrics

NAMES = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


def test_counts_only_real_changes_and_untouched_attributes():
  c_org = np.asarray([[1, 0, 0, 1, 0],     # black -> blond: a change
                      [0, 1, 0, 0, 1],     # blond -> blond: no change, not counted
                      [0, 0, 1, 1, 1]], np.float32)
  c_trg = c_org.copy()
  c_trg[:, :3] = [0, 1, 0]
  judged_in = np.asarray([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 0, 1]], np.float32)
  judged_out = np.asarray([[0, 1, 0, 1, 1],   # reached; Young changed (1 of 2 untouched kept)
                           [0, 0, 0, 0, 0],   # ignored
                           [0, 0, 1, 0, 1]],  # not reached; both untouched kept
                          np.float32)
  counts = attribute_metrics.count_single_transfer('Blond_Hair', c_org, c_trg, judged_in,
                                                   judged_out, NAMES)
  assert (counts.changed, counts.reached, counts.kept, counts.untouched) == (2, 1, 3, 4)
  assert counts.transfer_accuracy == 0.5 and counts.preservation == 0.75


def test_summary_pools_over_attributes():
  counts = {'Male': attribute_metrics.TransferCounts(changed=10, reached=9, kept=30, untouched=40),
            'Young': attribute_metrics.TransferCounts(changed=30, reached=15, kept=100,
                                                      untouched=120)}
  summary = attribute_metrics.summarize(counts)
  assert summary['transfer_accuracy/Male'] == 0.9
  assert summary['transfer_accuracy'] == 24 / 40
  assert summary['preservation'] == 130 / 160
  assert summary['num_changed/Young'] == 30
  empty = attribute_metrics.summarize({'Male': attribute_metrics.TransferCounts()})
  assert np.isnan(empty['transfer_accuracy'])
