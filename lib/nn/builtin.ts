/**
 * The mixer kinds a Model knows: one import per kind (each module calls
 * registerMixer). 'conv' registers in mixers.ts. Owners of 'titans', 'tnt',
 * 'trellis' and 'gdn' add their module here.
 */
import './attention.js';
import './titans.js';
import './gdn.js';
import './quant_cache.js';
import './trellis.js';
import './tnt.js';
