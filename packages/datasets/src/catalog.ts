// What the four benchmarks are: names, files, sizes. No file or network access (see registry.ts).

export interface DatasetInfo {
  title: string;
  /** The original file's name, as published. */
  pickle: string;
  /** The gzipped JSON conversion's name. */
  json: string;
  /** sha256 of the original pickle, where known. */
  sha256?: string;
  /** Sequences per split (train, valid, test): checked after a download. */
  sequences: readonly [number, number, number];
}

/** The four benchmarks of Boulanger-Lewandowski et al. (ICML 2012), by short name. */
export const POLYPHONIC_DATASETS = {
  jsb: {
    title: 'JSB Chorales',
    pickle: 'JSB Chorales.pickle',
    json: 'JSB_Chorales.json.gz',
    sha256: '69dc4c3e52800959ac0ab3b82aa3e5f55285ce64f1705acb3e3a8ef77a5c051c',
    sequences: [229, 76, 77],
  },
  nottingham: {
    title: 'Nottingham',
    pickle: 'Nottingham.pickle',
    json: 'Nottingham.json.gz',
    sequences: [694, 173, 170],
  },
  musedata: { title: 'MuseData', pickle: 'MuseData.pickle', json: 'MuseData.json.gz', sequences: [524, 135, 124] },
  pianomidi: {
    title: 'Piano-midi.de',
    pickle: 'Piano-midi.de.pickle',
    json: 'Piano_midi.json.gz',
    sequences: [87, 12, 25],
  },
} as const satisfies Record<string, DatasetInfo>;

export type DatasetName = keyof typeof POLYPHONIC_DATASETS;
export const DATASET_NAMES = Object.keys(POLYPHONIC_DATASETS) as DatasetName[];

/** Where the original pickles were published (the ICML 2012 page of N. Boulanger-Lewandowski). */
export const ORIGINAL_BASE_URL = 'http://www-etud.iro.umontreal.ca/~boulanni/';
