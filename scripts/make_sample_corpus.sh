#!/usr/bin/env bash
# Builds the small synthetic sample corpus in Common Voice layout under audio/sample/en/:
# clips/*.mp3 (espeak-ng speech, lame-encoded mono CBR MP3 with an ID3v2 tag, like real CV
# clips: 32 kHz at 48 kbit/s as in recent releases, 48 kHz at 64 kbit/s as in early ones) and
# the TSVs validated/train/dev/test (current CV header) plus clip_durations.tsv.
# (Lower bitrates would be smaller, but then a frame is too short for LAME's Info tag, and
# without its delay/padding fields decoders cannot trim the encoder delay: lengths drift.)
#
# Six "speakers" are distinct espeak-ng voices (accent + voice variant + pitch + speed).
# Speakers 1-4 are train, 5 is dev, 6 is test, so dev/test share no speaker with train.
# Deterministic: same tools, same bytes. Needs only: apt-get install -y espeak-ng lame
#
# Usage: scripts/make_sample_corpus.sh [out_dir]   (default: audio/sample/en)
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
out="${1:-audio/sample/en}"
for tool in espeak-ng lame sha256sum sha512sum; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y espeak-ng lame)" >&2; exit 1; }
done

# voice  pitch  speed(wpm)  mp3-rate(kHz)  gender  age  accents
speakers=(
  "en-us+m3|45|165|48|male_masculine|twenties|United States English"
  "en-gb+f2|68|155|32|female_feminine|thirties|England English"
  "en-gb-scotland+m1|35|150|48|male_masculine|fifties|Scottish English"
  "en-029+f4|72|170|32|female_feminine|twenties|Caribbean English"
  "en-us-nyc+m7|52|160|48|male_masculine|forties|United States English"
  "en-gb-x-rp+f1|60|158|32|female_feminine|sixties|England English"
)
split_of=(train train train train dev test)

sentences=(
  "The kettle is boiling in the kitchen."
  "Please close the window before it rains."
  "My brother plays the violin every evening."
  "We walked along the beach at sunset."
  "The library opens at nine tomorrow."
  "She painted the fence a bright blue."
  "Turn left at the second traffic light."
  "The children laughed at the silly clown."
  "A cold wind blew across the valley."
  "He forgot his umbrella on the train."
  "Our neighbours have a friendly old dog."
  "The museum was full of ancient maps."
  "Could you pass the salt, please?"
  "The train to Leeds is running late."
  "I planted tomatoes in the garden today."
  "The river froze during the long winter."
  "Fresh bread smells wonderful in the morning."
  "They moved to a small village by the sea."
  "The meeting will start in ten minutes."
  "A flock of geese flew over the farm."
  "Write your name at the top of the page."
  "The old clock in the hall stopped at noon."
  "He said \"hello\" and waved from the bus."
  "The soup needs a little more pepper."
  "We counted the stars from the hilltop."
  "The baker sold out of muffins early."
  "Rain tapped softly on the tin roof."
  "The captain steered the ship through the fog."
  "Keep your ticket until the end of the trip."
  "A red kite circled above the wheat field."
  "The printer on the third floor is broken."
  "Grandma tells the best stories at dinner."
  "The bridge was closed for repairs last week."
  "Owls hunt quietly in the dark forest."
  "Please leave the parcel at the front door."
  "The choir sang in the cathedral on Sunday."
  "Her bicycle has a squeaky front wheel."
  "The football match ended in a draw."
  "Snow covered the mountains by December."
  "The cat slept on a pile of warm laundry."
  "He fixed the radio with a tiny screwdriver."
  "The market sells apples, pears and plums."
  "Thunder rolled over the hills all night."
  "I will call you when the film begins."
  "The lighthouse keeper lived alone on the island."
  "A gentle breeze moved the tall grass."
  "The new teacher wrote her name on the board."
  "Those boots are too small for my feet."
  "The fishermen returned with a heavy catch."
  "The garden gate creaks when it opens."
  "We shared a pot of tea by the fire."
  "The lift is out of order again."
  "Bees buzzed around the lavender bushes."
  "The pilot announced a smooth landing."
  "Remember to water the plants on Friday."
  "The hotel room had a view of the harbour."
  "A quiet street is a good place to live."
  "The orchestra tuned up before the concert."
  "Nobody knew where the key had gone."
  "The sun rose slowly over the calm lake."
)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out/clips"
header=$'client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment'
for f in validated train dev test; do printf '%s\n' "$header" >"$tmp/$f.tsv"; done
printf 'clip\tduration[ms]\n' >"$out/clip_durations.tsv"

for i in "${!sentences[@]}"; do
  sentence="${sentences[$i]}"
  s=$((i % ${#speakers[@]}))
  IFS='|' read -r voice pitch speed rate gender age accents <<<"${speakers[$s]}"
  client_id="$(printf 'audio-gen-sample-speaker-%d' "$((s + 1))" | sha512sum | cut -d' ' -f1)"
  sentence_id="$(printf '%s' "$sentence" | sha256sum | cut -d' ' -f1)"
  clip="common_voice_en_$((90000001 + i)).mp3"

  espeak-ng -v "$voice" -p "$pitch" -s "$speed" -w "$tmp/clip.wav" "$sentence"
  # espeak-ng writes a plain 44-byte header, 16-bit mono at 22050 Hz
  frames=$((($(stat -c %s "$tmp/clip.wav") - 44) / 2))
  ms=$(((frames * 1000 + 11025) / 22050))
  if ((ms < 1500 || ms > 4000)); then echo "warning: $clip is $ms ms" >&2; fi
  kbps=$((rate == 48 ? 64 : 48))
  lame --quiet --noreplaygain -m m --resample "$rate" -b "$kbps" \
    --id3v2-only --tc "audio-gen sample corpus" "$tmp/clip.wav" "$out/clips/$clip"

  row="$client_id	$clip	$sentence_id	$sentence		2	0	$age	$gender	$accents		en	"
  printf '%s\n' "$row" >>"$tmp/validated.tsv"
  printf '%s\n' "$row" >>"$tmp/${split_of[$s]}.tsv"
  printf '%s\t%s\n' "$clip" "$ms" >>"$out/clip_durations.tsv"
done

for f in validated train dev test; do mv "$tmp/$f.tsv" "$out/$f.tsv"; done
echo "wrote $(ls "$out/clips" | wc -l) clips, $(du -sh "$out" | cut -f1) in $out"
