#!/usr/bin/env bash
# Sisimai (the classifier users would pick instead) and bouncewatch side by side, in one run: each
# classifies the same replies from their bare text, and the script prints both accuracies and both
# throughputs (replies per second, one core, including reading input and writing one verdict per reply).
#
#   scripts/sisimai-side-by-side.sh            # installs Debian's libsisimai-perl if missing (needs root)
#
# Sisimai's side is `Sisimai::Reason->match($text)`: its reason logic on a reply's text alone, the way a
# webhook hands us the reply (its full pipeline also reads the bounce email's MIME parts, which an ESP
# webhook does not have). A sisimai reason counts as right when it maps onto the labelled category
# (tests/fixtures/replies/sisimai_to_category.tsv); on sisimai_pairs.tsv the label is sisimai's own test
# expectation, on the other files it is our category.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=tests/fixtures/replies
if ! perl -MSisimai::Reason -e 1 2>/dev/null; then
  apt-get install -y libsisimai-perl >/dev/null
fi
cargo build --release --bin bouncewatch --quiet
bin=target/release/bouncewatch
rounds=${ROUNDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One reply per line (label kept aside): sisimai_pairs (reason -> accepted categories), provider_replies
# (real replies and documentation templates; its KumoMTA regexes are patterns, not replies) and the
# fresh set (our categories; classified without the event kinds it records, as sisimai is).
perl -e '
  my ($dir, $out) = @ARGV;
  my %accepted;
  open my $m, "<", "$dir/sisimai_to_category.tsv" or die; <$m>;
  while (<$m>) { chomp; my ($r, $c) = split /\t/; $accepted{$r} = $c }
  for my $spec (["sisimai_pairs.tsv", 1, "reason"], ["provider_replies.tsv", 2, "category"], ["fresh_eval.tsv", 1, "category"]) {
    my ($file, $col, $kind) = @$spec;
    open my $in, "<", "$dir/$file" or die; <$in>;
    open my $r, ">", "$out/$file.replies" or die;
    open my $l, ">", "$out/$file.labels" or die;
    while (<$in>) {
      chomp; my @f = split /\t/; my ($text, $label) = ($f[0], $f[$col]);
      next unless defined $label && length $label && $text =~ /\S/;
      next if $file eq "provider_replies.tsv" && ($f[4] // "") =~ /^regex/;  # KumoMTA patterns, not replies
      my $cats = $kind eq "reason" ? $accepted{$label} : $label;
      next if !defined $cats || $cats =~ /^\(skip/;
      $text =~ s/[\r\n]+/ /g;
      print $r "$text\n"; print $l "$cats\n";
    }
  }' "$fixtures" "$work"

for file in sisimai_pairs.tsv provider_replies.tsv fresh_eval.tsv; do
  for _ in $(seq "$rounds"); do cat "$work/$file.replies"; done > "$work/$file.repeated"
done

perl -MSisimai::Reason -MTime::HiRes=time -e '
  my ($work, $rounds, $fixtures) = @ARGV;
  my %accepted;
  open my $m, "<", "$fixtures/sisimai_to_category.tsv" or die; <$m>;
  while (<$m>) { chomp; my ($r, $c) = split /\t/; $accepted{$r} = $c }
  for my $file (qw(sisimai_pairs.tsv provider_replies.tsv fresh_eval.tsv)) {
    open my $r, "<", "$work/$file.replies" or die; my @replies = map { chomp; $_ } <$r>;
    open my $l, "<", "$work/$file.labels" or die; my @labels = map { chomp; $_ } <$l>;
    my $right = 0;
    for my $i (0 .. $#replies) {
      my $reason = Sisimai::Reason->match($replies[$i]) || "undefined";
      my %want = map { $_ => 1 } split /\|/, $labels[$i];
      $right++ if grep { $want{$_} } split /\|/, ($accepted{$reason} // "unclassified");
    }
    my $start = time;
    open my $out, ">", "/dev/null";
    for (1 .. $rounds) { print $out (Sisimai::Reason->match($_) || "undefined"), "\n" for @replies }
    my $seconds = time - $start;
    printf "sisimai     %-22s %4d/%-4d = %5.1f %%   %9.0f replies/s\n", $file, $right, scalar @replies,
      100 * $right / @replies, $rounds * @replies / $seconds;
  }' "$work" "$rounds" "$fixtures"

for file in sisimai_pairs.tsv provider_replies.tsv fresh_eval.tsv; do
  total=$(wc -l < "$work/$file.replies")
  right=$("$bin" classify < "$work/$file.replies" | perl -MJSON::PP -e '
    open my $l, "<", $ARGV[0] or die; my @labels = map { chomp; $_ } <$l>;
    my $right = 0; my $i = 0;
    while (<STDIN>) { my $v = decode_json($_); my %want = map { $_ => 1 } split /\|/, $labels[$i++]; $right++ if $want{$v->{category}} }
    print $right' "$work/$file.labels")
  start=$(date +%s.%N)
  "$bin" classify < "$work/$file.repeated" > /dev/null
  end=$(date +%s.%N)
  perl -e 'my ($f, $r, $t, $n, $s) = @ARGV; printf "bouncewatch %-22s %4d/%-4d = %5.1f %%   %9.0f replies/s\n", $f, $r, $t, 100 * $r / $t, $n / $s' \
    "$file" "$right" "$total" "$(wc -l < "$work/$file.repeated")" "$(echo "$end - $start" | bc -l)"
done
