#!/bin/sh
# Regenerates Purser's icons from scratch with ImageMagick 6 (`convert`):
#   source.png          the 1024x1024 app icon (indigo rounded square, white shield + $)
#   tray/{normal,pending,killed}.png   64x64 tray states: as usual, N requests waiting
#                                      (amber dot), kill switch engaged (red, stop glyph)
# then the platform set (32x32.png, 128x128.png, 128x128@2x.png, icon.png, icon.ico,
# icon.icns...) with the Tauri CLI. Run from anywhere: `sh icons/generate.sh`.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The shield and the dollar sign, on a 1024 canvas (a 32-unit design scaled by 32).
shield="path 'M512 208 L272 297.6 v198.4 c0 160 105.6 278.4 240 320 c134.4 -41.6 240 -160 240 -320 V297.6 Z'"
dollar="path 'M512 368 v288' path 'M595.2 428.8 c-16 -25.6 -48 -38.4 -83.2 -38.4 c-48 0 -83.2 25.6 -83.2 60.8 c0 83.2 169.6 44.8 169.6 128 c0 35.2 -38.4 60.8 -86.4 60.8 c-38.4 0 -70.4 -16 -86.4 -41.6'"
stop="roundrectangle 432,452 592,612 24,24"
strokes="fill none stroke white stroke-linejoin round stroke-linecap round"

# rounded_square TOP BOTTOM OUT: a gradient rounded square with soft (antialiased) edges.
rounded_square() {
  convert -size 1024x1024 xc:black -fill white -draw "roundrectangle 48,48 975,975 224,224" "$work/mask.png"
  convert -size 1024x1024 "gradient:$1-$2" "$work/mask.png" -alpha off -compose CopyOpacity -composite "$3"
}

rounded_square '#5b54e8' '#3730a3' "$work/indigo.png"
convert "$work/indigo.png" \( -size 1024x1024 xc:none -draw "$strokes stroke-width 64 $shield stroke-width 54.4 $dollar" \) \
  -compose Over -composite PNG32:source.png

# Tray: drawn at 1024 and scaled down, so the edges stay smooth at 64.
cp source.png "$work/normal.png"
convert source.png -fill white -draw "circle 816,208 816,8" -fill '#f59e0b' -draw "circle 816,208 816,48" \
  PNG32:"$work/pending.png"
rounded_square '#ef4444' '#b91c1c' "$work/red.png"
convert "$work/red.png" \( -size 1024x1024 xc:none -draw "$strokes stroke-width 64 $shield" -fill white -stroke none -draw "$stop" \) \
  -compose Over -composite PNG32:"$work/killed.png"
mkdir -p tray
for state in normal pending killed; do
  convert "$work/$state.png" -filter Lanczos -resize 64x64 PNG32:"tray/$state.png"
done

npx --yes @tauri-apps/cli@2 icon source.png -o .
# Desktop only: drop the mobile and Windows Store sets the CLI also writes.
rm -rf android ios Square*Logo.png StoreLogo.png
