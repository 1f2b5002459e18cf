//! The `bash` tool. Bash is the oracle: each script runs through real bash
//! and through the sandboxed shell, in identical copies of one fixture, and
//! the output, exit status and resulting files must match. Then the shell is
//! asked to leave the workspace and to run away, and must do neither.

use crate::util::{Fixture, TEST_LIMITS, assert_no_secret, call, wasmgate};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use wasmgate::sandbox::CallError;

/// Scripts whose output (stdout and stderr together), exit status and files
/// must be the same under bash and under the sandboxed shell.
const ORACLE: &[&str] = &[
    "echo hello world",
    "echo -n hi; echo",
    "echo \"a  b\"   c",
    "echo 'single $HOME' \"double $NOPE\"",
    "X=hello; echo \"$X world\" ${X} ${X}s",
    "echo $?; false; echo $?; true && echo yes || echo no",
    "false || echo recovered; false && echo never",
    "true; ! true; echo $?",
    "cat a.txt | wc -l",
    "wc -l a.txt; wc -l < a.txt; wc a.txt b.txt",
    "head -n 2 a.txt; tail -n 1 a.txt; head -1 a.txt; tail -n +2 a.txt",
    "cat a.txt | sort -r",
    "sort -n nums.txt; sort -rn nums.txt | head -2",
    "printf '%s-%d\\n' x 5 y 7",
    "printf '%5s|%-5s|%03d\\n' ab cd 7",
    "ls",
    "ls src notes",
    "ls -a",
    "ls -R",
    "mkdir -p x/y/z && touch x/y/z/f && ls x/y/z",
    "echo data > out.txt; echo more >> out.txt; cat out.txt",
    "cp a.txt c.txt && mv c.txt d.txt && ls",
    "rm b.txt; ls; rm -f nothing; echo $?",
    "cp -r src src2 && ls src2",
    "rm -r notes && ls",
    "grep beta a.txt",
    "grep -n a a.txt; grep -c a a.txt",
    "grep -i BETA a.txt; grep -v beta a.txt",
    "grep -r fn src | sort",
    "grep -l fn src/*.rs",
    "grep -E 'al|ga' a.txt; grep 'al\\|ga' a.txt; grep -F 'a.' a.txt; echo $?",
    "grep -o 'a[a-z]' a.txt; grep -w beta a.txt",
    "grep zzz a.txt; echo status=$?",
    "find . -name '*.rs' | sort",
    "find src -type f | sort; find . -maxdepth 1 -type d | sort",
    "cut -d, -f2 data.csv; cut -c1-3 a.txt",
    "echo hello | tr a-z A-Z; echo hello | tr -d l",
    "seq 3; seq 2 4; seq 10 -3 1",
    "sort data.csv | uniq -c; printf 'a\\na\\nb\\n' | uniq",
    "basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname c.txt; basename dir/",
    "[ -f a.txt ] && echo file; [ -d src ] && echo dir; test -z \"\" && echo empty; [ 3 -lt 5 ] && echo less",
    "[ -f nope ] || echo missing; [ abc = abc ] && echo same; [ ! -d a.txt ] && echo notdir",
    "if [ -e nope ]; then echo yes; elif [ -e a.txt ]; then echo elif; else echo no; fi",
    "for i in 1 2 3; do echo \"n=$i\"; done",
    "for f in src/*.rs; do echo \"== $f\"; head -1 \"$f\"; done",
    "n=0; while [ $n != 3 ]; do n=$(echo $n | tr 012 123); echo $n; done",
    "until [ -f made ]; do touch made; echo making; done; ls",
    "cd src && pwd && ls; pwd",
    "(cd src; echo inside; pwd); echo outside; pwd",
    "{ echo a; echo b; } > grouped.txt; cat grouped.txt",
    "echo one 2>/dev/null; cat a.txt 2>&1 | head -1",
    "export FOO=bar; echo $FOO",
    "nosuchcmd 2>/dev/null; echo $?",
    "cat nofile 2>/dev/null || echo missing",
    "echo *.txt; echo '*.txt'; echo nomatch*; echo src/*.rs; echo */",
    "tee copy.txt < a.txt | wc -l; cat copy.txt",
    "echo \"$(head -1 a.txt) and `tail -1 a.txt`\"",
    "X=v; cat <<EOF\nval=$X\nEOF\ncat <<'EOF'\nraw=$X\nEOF",
    "cat <<< 'here string'",
    "echo a; exit 3; echo b",
    "echo ~ ; cd ~ ; pwd",
    "echo a > f1 2>&1; ls f1 && cat f1",
    "printf '%s\\n' c b a | sort | head -2",
    "echo a b c | wc -w; echo abc | wc -c",
    "A=1 B=2; echo $A$B; unset A; echo \"[$A]\"",
    "sed 's/a/A/' a.txt; sed 's/a/A/g' a.txt",
    "sed -n '2p' a.txt; sed -n '/et/p' a.txt; sed '1d' a.txt; sed '2,3d' a.txt; sed -n '$p' a.txt",
    "sed -i 's/beta/BETA/' a.txt; cat a.txt",
    "sed -E 's/(al)(pha)/\\2\\1/' a.txt; sed 's/\\(be\\)ta/[\\1]/' a.txt",
    "echo 'x/y/z' | sed 's|/|-|g'; echo hello | sed 's/l*/<&>/'; sed -e 's/a/1/' -e 's/b/2/' a.txt",
    "diff a.txt a.txt; echo $?; printf 'alpha\\nBETA\\ngamma\\ndelta\\n' > c.txt; diff a.txt c.txt; echo $?",
    "printf 'alpha\\nBETA\\ngamma\\n' > c.txt; diff -u a.txt c.txt | tail -n +3",
    "printf 'zero\\nalpha\\ngamma\\n' > c.txt; diff a.txt c.txt",
    "ls *.txt | xargs wc -l; echo a b c | xargs -n 1 echo x; printf '1\\n2\\n' | xargs -I {} echo item-{}",
    "ln -s a.txt link.txt && cat link.txt; ls",
    "head -c 8 a.txt; echo",
    // Arithmetic.
    "echo $((1 + 2 * 3)) $(( (1 + 2) * 3 )) $((7 / 2)) $((7 % 3)) $((2 ** 10)) $((-5 / 2))",
    "x=5; echo $((x + 1)) $(($x * 2)); ((x++)); echo $x; ((x += 10)); echo $x",
    "echo $((1 < 2)) $((2 <= 1)) $((3 == 3)) $((1 != 1)) $((1 && 0)) $((1 || 0)) $((!0))",
    "echo $((0x1f)) $((010)) $((2#101)) $((1 << 4)) $((256 >> 2)) $((5 & 3)) $((5 | 3)) $((5 ^ 3)) $((~0))",
    "a=3 b=4; echo $(( a > b ? a : b )); echo $(( a = b + 1 )); echo $a",
    "(( 3 > 2 )) && echo yes; (( 0 )) || echo zero-is-false; (( 1 - 1 )); echo $?",
    "i=0; while (( i < 3 )); do echo $i; (( i++ )); done",
    "for ((i = 0; i < 3; i++)); do echo \"i=$i\"; done",
    "for ((i = 10; i > 0; i -= 4)); do printf '%s ' $i; done; echo",
    "y=2+3; echo $((y * 2)); let z=4*5 w=z+1; echo $z $w; let 0; echo $?",
    "{ echo $((1 / 0)); echo after; } 2>/dev/null",
    "(( 1 / 0 )) 2>/dev/null; echo after $?; let 'x = 1 / 0' 2>/dev/null; echo $?",
    "n=$(wc -l < a.txt); echo $((n * 10))",
    // case.
    "for f in a.txt src x.rs; do case $f in *.txt) echo \"$f text\";; src|lib) echo \"$f dir\";; *) echo \"$f other\";; esac; done",
    "case abc in a*c) echo match;; esac; case abc in 'a*c') echo quoted;; *) echo literal;; esac",
    "x=hello; case $x in h?llo) echo one ;& nothing) echo two ;; *) echo three ;; esac",
    "case 5 in [0-9]) echo digit;; [a-z]) echo letter;; esac; case Q in [!a-z]) echo not-lower;; esac",
    "p='*.md'; case notes.md in $p) echo unquoted-pattern;; esac; case notes.md in \"$p\") echo no;; *) echo quoted-is-text;; esac",
    "case '' in '') echo empty;; *) echo other;; esac; case x in y) echo y;; esac; echo status=$?",
    // Functions, local, return, positional parameters.
    "greet() { echo \"hello $1\"; }; greet world; greet",
    "f() { echo \"$# args: $@\"; echo \"first=$1 second=${2:-none}\"; }; f a b c; f",
    "f() { local x=inner; echo $x; }; x=outer; f; echo $x",
    "f() { return 3; echo never; }; f; echo status=$?",
    "f() { local n=$1; if (( n <= 1 )); then echo 1; return; fi; echo $(( n * $(f $((n - 1))) )); }; f 5",
    "count() { local c=0; for a in \"$@\"; do c=$((c + 1)); done; echo $c; }; count a 'b c' d; count",
    "f() { shift; echo \"$@\"; shift 2; echo \"$#\"; }; f 1 2 3 4 5",
    "function named { echo named-$1; }; named x",
    "f() { x=changed; }; x=orig; f; echo $x",
    "outer() { inner; }; inner() { echo \"inner sees $v\"; }; f() { local v=local; outer; }; v=global; f",
    "f() { echo \"$1|$2\"; }; args='a b'; f $args; f \"$args\"",
    "f() { for x in \"$@\"; do echo \"<$x>\"; done; }; f 'one two' three \"\"",
    "set -- x y z; echo $1 $# \"$*\"; shift; echo $@",
    "f() { echo in-f; }; unset -f f; f 2>/dev/null || echo gone",
    // break and continue.
    "for i in 1 2 3 4 5; do if [ $i = 3 ]; then continue; fi; if [ $i = 5 ]; then break; fi; echo $i; done",
    "for i in a b; do for j in 1 2 3; do if [ $j = 2 ]; then continue 2; fi; echo $i$j; done; done",
    "for i in a b; do for j in 1 2; do echo $i$j; break 2; done; done; echo done",
    "i=0; while true; do i=$((i+1)); [ $i -gt 3 ] && break; echo $i; done",
    // Parameter expansion.
    "p=src/lib/main.rs; echo ${p#*/} ${p##*/} ${p%/*} ${p%%/*} ${#p}",
    "f=archive.tar.gz; echo ${f%.gz} ${f%%.*} ${f#*.} ${f##*.}",
    "s='hello world'; echo ${s/o/0} ${s//o/0} ${s/#hello/bye} ${s/%world/all} ${s// /_}",
    "s=abcdef; echo ${s:2} ${s:1:3} ${s: -2} ${s:0:-1} ${#s}",
    "unset u; echo ${u:-default} ${u-dash}; e=''; echo [${e:-empty}] [${e-set}]; echo ${u:=assigned} $u",
    "v=x; echo ${v:+alt} [${nope:+alt}]; echo ${v^^} ${v^}; U=ABC; echo ${U,,} ${U,}",
    "name=v; v=indirect; echo ${!name}",
    "echo start; { echo ${missing:?is required}; } 2>/dev/null; echo not-reached",
    // [[ ]].
    "[[ abc == a* ]] && echo glob; [[ abc == 'a*' ]] || echo literal; [[ abc != b* ]] && echo differs",
    "[[ -f a.txt && -d src ]] && echo both; [[ -e nope || -n x ]] && echo either; [[ ! -z x ]] && echo notempty",
    "[[ 10 -gt 9 ]] && echo num; [[ 10 > 9 ]] || echo string-order; [[ a < b ]] && echo less",
    "v='v1.2.3'; if [[ $v =~ ^v([0-9]+)\\.([0-9]+) ]]; then echo ${BASH_REMATCH[0]} ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}; fi",
    "x='a b'; [[ $x == 'a b' ]] && echo no-split; [[ -n $nothing ]] || echo empty-ok",
    "[[ 2+3 -eq 5 ]] && echo arith; [[ ( a == a ) && ! ( a == b ) ]] && echo grouped",
    // Arrays.
    "a=(one two three); echo ${a[0]} ${a[2]} ${#a[@]}; echo ${a[@]}",
    "a=(x y); a+=(z); a[5]=w; echo ${#a[@]} ${a[@]} ${!a[@]}; echo ${a[-1]}",
    "a=('with space' b); for e in \"${a[@]}\"; do echo \"[$e]\"; done; for e in ${a[@]}; do echo \"<$e>\"; done",
    "a=(1 2 3); i=1; echo ${a[i]} ${a[$i+1]} $((a[0] + a[2])); a[i]=20; echo ${a[*]}",
    "files=(src/*.rs); echo ${#files[@]} ${files[0]}; unset 'files[0]'; echo ${files[@]}",
    "a=(); echo [${a[@]}] ${#a[@]}; x=scalar; echo ${x[0]} ${#x[@]}",
    // set -e, -u, pipefail.
    "set -e; echo before; false; echo after",
    "set -e; false || echo handled; if false; then :; fi; ! true; echo survived",
    "set -e; f() { echo in; return 1; }; f && echo no; echo still",
    "set -u; echo ${defined:-ok}; { echo $undefined_var; } 2>/dev/null; echo never",
    "false | true; echo $?; set -o pipefail; false | true; echo $?; set +o pipefail; false | true; echo $?",
    "set -e; x=$(false); echo unreachable",
    "x=$(exit 4); echo $?; y=value; echo $?",
    // Brace expansion.
    "echo {a,b,c}.txt; echo x{1..4}; echo {5..1}; echo {a..e}; echo {1..10..3}; echo {c..a}",
    "mkdir -p out/{src,test}/{x,y} && find out -type d | sort",
    "echo pre{A,B{1,2}}post; echo '{a,b}' \"{a,b}\" {a}; n=3; echo {1..$n}",
    "for f in {b,a}.txt; do wc -l < $f; done; touch new{1,2}.md; ls *.md",
    // read.
    "while read line; do echo \"[$line]\"; done < a.txt",
    "printf 'a b c\\nd e\\n' | while read first rest; do echo \"$first|$rest\"; done",
    "IFS=, read -r name age <<< 'ann,31'; echo \"$name is $age\"",
    "read -a words <<< 'one two  three'; echo ${#words[@]} ${words[1]}",
    "printf 'no newline' | { read x; echo \"$? $x\"; }; read y < /dev/null; echo \"$? [$y]\"",
    "printf 'a\\\\tb\\n' | { read -r raw; echo \"$raw\"; }; printf 'a\\\\tb\\n' | { read cooked; echo \"$cooked\"; }",
    "read <<< '  keep spaces  '; echo \"[$REPLY]\"; read v <<< '  trim spaces  '; echo \"[$v]\"",
    "n=0; while IFS= read -r l; do n=$((n + 1)); done < data.csv; echo $n lines",
    "cat data.csv | { read header; echo \"header: $header\"; cat; }",
    // source, command, type, trap.
    "printf 'greeting=hi\\nsay() { echo \"$greeting $1\"; }\\n' > lib.sh; source lib.sh; say there; . ./lib.sh; echo $greeting",
    "printf 'echo args: $#\\nreturn 4\\necho never\\n' > r.sh; . r.sh a b; echo status=$?",
    "command -v echo; command -v nosuch || echo none; f() { :; }; command -v f; type -t f; type -t echo",
    "f() { echo function; }; command echo builtin; f",
    "trap 'echo cleanup' EXIT; echo working",
    "trap 'echo bye $?' EXIT; echo about to fail; exit 3",
    "trap 'echo never' EXIT; trap - EXIT; echo quiet",
    // printf.
    "printf '%5d|%-5d|%05d|%+d|% d|%.3d\\n' 42 42 -42 7 7 5",
    "printf '%x %X %o %#x %#o %u\\n' 255 255 8 255 8 -1",
    "printf '%.2f %8.3f %-8.1f| %e %E %g %g %g\\n' 3.14159 2.5 1.25 12345.678 0.000123 0.0001 123456789 2.5",
    "printf '%s=%s\\n' a 1 b 2 c; printf '%c%c\\n' hello world; printf '%5s|%-5s|%.2s\\n' ab cd xyz",
    "printf '%d\\n' abc 12x 2>/dev/null; echo status=$?",
    "printf -v out '%03d' 7; echo $out; printf '%*d|%-*s|\\n' 5 3 4 ab",
    "printf '%q\\n' 'a b' plain; printf '%d %d\\n' \"'A\" 0x10; printf '%b\\n' 'tab\\there'; printf '%%|%s\\n' x",
    "printf '%08.3f|%+.1e|%G\\n' 3.14159 -1234.5 0.00001234",
    // Together.
    "sum=0; for n in $(seq 1 10); do (( n % 2 == 0 )) && sum=$((sum + n)); done; echo $sum",
    "declare_ok() { local -a list=(\"$@\"); echo ${#list[@]}; }; declare_ok a b c",
    "join() { local IFS=\"$1\"; shift; echo \"$*\"; }; join , a b c; join - x y",
    "max=0; while read -r n; do (( n > max )) && max=$n; done < nums.txt; echo $max",
    "for f in *.txt; do case $f in a*) echo \"A: ${f%.txt}\";; *) echo \"other: ${f^^}\";; esac; done",
    "words=(); while read -r line; do words+=(\"$line\"); done < a.txt; echo ${#words[@]} \"${words[-1]}\"",
    "usage() { echo \"usage: $0 FILE\" >&2; return 2; }; [[ $# -eq 0 ]] && usage 2>/dev/null; echo $?",
    "s=; for i in {1..5}; do s+=$i; done; echo $s ${s:1:3} $(( ${#s} * 2 ))",
    "check() { [[ -f $1 ]] && echo \"$1 exists\" || echo \"$1 missing\"; }; check a.txt; check zzz",
    "set -- $(echo c b a); for x; do echo $x; done",
    "count=$(grep -c a a.txt); if (( count > 1 )); then echo many; else echo few; fi",
    "x=10; f() { local x=$((x + 1)); echo $x; }; f; echo $x",
    "x=5; (( x > 3 && x < 10 )) && echo in-range; (( x == 5 ? 1 : 0 )) && echo five",
    "a=(3 1 2); for i in \"${!a[@]}\"; do echo \"$i=${a[$i]}\"; done",
    "f() { echo \"${FUNCNAME:-f}\" >/dev/null; echo $#; }; f \"\" ''; f",
    "i=0; until (( i >= 3 )); do echo -n $i; (( i += 1 )); done; echo",
    "s='a-b-c'; IFS=- read -r x y z <<< \"$s\"; echo $z $y $x",
    "v=; [[ -z $v ]] && echo empty; v=0; [[ $v ]] && echo set; unset v; [[ -v v ]] || echo unset",
    "str='The Quick Fox'; echo ${str,,} ${str^^} ${str//[aeiou]/_}",
    "path=/usr/local/bin/tool; echo ${path##*/} ${path%/*} ${path#/usr}",
    "n=7; case $((n % 2)) in 0) echo even;; 1) echo odd;; esac",
    "f() { local -a arr=(\"$@\"); echo ${arr[@]:1:2} ${#arr[@]}; }; f a b c d",
    "echo $(( $(wc -l < a.txt) + $(wc -l < b.txt) ))",
    "for i in 1 2 3; do echo $i; done | while read n; do echo $((n * n)); done",
    "printf '%s\\n' c a b | sort | { mapfile_like=(); while read l; do mapfile_like+=(\"$l\"); done; echo ${mapfile_like[*]}; }",
    "cnt=0; for f in src/*; do [[ -f $f ]] && (( cnt++ )); done; echo $cnt",
    "set -e; trap 'echo trapped $?' EXIT; false; echo never",
    "f() { return; }; false; f; echo $?; g() { true; return; }; false; g; echo $?",
    "x=abc; echo ${x:1} ${x: -1} ${x:0:1}${x:2:1}; y=${x/b/B}; echo $y",
    "a=(one two); a[1]+=X; a+=(three); echo ${a[@]} ${#a[1]}",
    "echo {1..3}{a,b} | wc -w; echo file{,.bak}",
    "k=3; arr=(); for ((i=0; i<k; i++)); do arr[i]=$((i * i)); done; echo ${arr[*]}",
    "readonly X=1; echo $X; (X=2) 2>/dev/null; echo $?; (unset X) 2>/dev/null; echo $? $X; declare -r Y=a; (Y=b) 2>/dev/null; echo $? $Y",
    "f() { local -r z=1; echo $z; z=2; echo never; }; f 2>/dev/null; echo never2",
    "false | true | (exit 3); echo ${PIPESTATUS[@]} ${#PIPESTATUS[@]}; true; echo ${PIPESTATUS[0]}",
    "mapfile -t lines < a.txt; echo ${#lines[@]} \"${lines[1]}\"; printf 'x\\ny\\n' > l.txt; readarray arr < l.txt; printf '[%s]' \"${arr[@]}\"",
    "mapfile -t -s 1 -n 1 one < a.txt; echo \"${one[@]}\"; mapfile < b.txt; echo -n \"${MAPFILE[0]}\"",
    "f() { local OPTIND o; while getopts 'ab:c' o; do echo \"$o ${OPTARG-}\"; done; shift $((OPTIND - 1)); echo \"rest: $*\"; }; f -a -b val -c x y; f -acb2 z; f -- -a",
    "while getopts ':x:y' opt -y -x; do echo \"$opt ${OPTARG-}\"; done; OPTIND=1; while getopts 'q' opt -z 2>/dev/null; do echo \"$opt\"; done",
    "echo '{\"a\":1,\"b\":[1,2,{\"c\":\"x\"}]}' > d.json; jq . d.json; jq -c '.b' d.json; jq -r '.b[2].c' d.json",
    "printf '{\"n\":\"ann\",\"age\":31}\\n{\"n\":\"bob\",\"age\":25}\\n' | jq -r 'select(.age > 30) | .n'",
    "printf '[3,1,2]' | jq -c 'sort, map(. * 2), length, add, (.[] | tostring)'",
    "jq -n --arg who world --argjson n 3 '{greeting: \"hello \\($who)\", n: $n, list: [range($n)]}'",
    "printf '{\"b\":2,\"a\":{\"y\":1,\"x\":[]}}' | jq -S .; printf '{\"k\":\"v\"}' | jq -c 'to_entries, keys, has(\"k\")'",
    "printf '1\\n2\\n3\\n' | jq -s -c '., add / length'; printf 'a\\nb\\n' | jq -R .; printf 'a\\nb\\n' | jq -Rs .",
    "echo '{\"x\":null}' | jq -e .x; echo status=$?; echo '{\"x\":1}' | jq -e .x; echo status=$?",
    "echo '{\"a\":' | jq . >/dev/null 2>&1 || echo unparsed; echo '{}' | jq '.a.b.c'; echo '[1]' | jq '.[' 2>/dev/null; echo status=$?",
    "printf '[{\"name\":\"x\",\"tags\":[\"a\",\"b\"]},{\"name\":\"y\",\"tags\":[]}]' | jq -r '.[] | \"\\(.name): \\(.tags | join(\",\"))\"'",
    "printf '{\"users\":[{\"id\":1,\"on\":true},{\"id\":2,\"on\":false}]}' | jq -c '[.users[] | select(.on) | .id], (.users | map(.id) | max), (.users | length)'",
    "printf '{\"a\":\"1\",\"b\":\"x\"}' | jq -c '.a |= tonumber | .c = (.a + 1) | del(.b)'; jq -n -r '[1,2] | @csv, @tsv'",
    "awk -F, 'NR > 1 { sum += $2; n++ } END { print sum, n, sum / n }' data.csv",
    "awk -F, 'NR > 1 { count[$1]++ } END { for (k in count) print k, count[k] }' data.csv | sort",
    "awk '{ print NR \": \" $0 }' a.txt; awk 'length($0) > 4' a.txt; awk '/^g/ { print toupper($0) }' a.txt",
    "printf 'a b c\\nd e f\\n' | awk '{ print $NF, NF; $2 = \"X\"; print }'",
    "awk -v n=2 'BEGIN { for (i = 1; i <= n; i++) printf \"%d:%5.2f|%-4s|\\n\", i, i / 3, \"ab\" }'",
    "seq 1 10 | awk '$1 % 3 == 0 { s = s $1 \",\" } END { sub(/,$/, \"\", s); print s; print substr(\"hello\", 2, 3), index(\"hello\", \"l\") }'",
    "printf 'k1=v1;k2=v2\\n' | awk -F';' '{ for (i = 1; i <= NF; i++) { split($i, kv, \"=\"); print kv[2] } }'",
    "awk 'BEGIN { x = \"10\" + 5; y = 7 / 2; print x, y, int(y), 2 ^ 10; exit 3 } END { print \"end\" }'; echo status=$?",
    "awk 'NR == FNR { seen[$1]; next } $1 in seen' a.txt a.txt | wc -l; awk 'END { print NR }' a.txt b.txt; awk 'FNR == 1 { print FILENAME }' a.txt b.txt",
    "printf 'x 1\\ny 2\\nx 3\\n' | awk '$1 == \"x\" { gsub(/[0-9]/, \"#\"); print } $2 >= 2 && $1 != \"x\"'",
    "awk '{ if ($0 ~ /a$/) { n++; exit 1 } } END { print \"matched\", n }' a.txt; echo status=$?",
    "find . -name '*.txt' -o -name '*.csv' | sort; find . ! -name '*.txt' -type f | sort; find . \\( -name a.txt -o -name b.txt \\) -print | sort",
    "find . -type f -size -1k | sort; find . -size +0 -name '*.csv'; find . -size -2 -size +0c -name 'n*'",
    "touch -d '2001-01-01' old.txt; find . -newer old.txt -name 'a*'; find . ! -newer old.txt -type f; touch -r old.txt b.txt; find . -newer old.txt -name 'b*'; touch -c none.txt; ls none.txt 2>/dev/null || echo absent",
    "mkdir -p e/f; touch e/f/empty.txt; find e -empty | sort; find . -path './src/*' | sort; find . -name src -prune -o -type f -print | sort",
    "find . -name '*.txt' -exec wc -l {} \\; | sort; find . -name '*.csv' -exec cat {} +; find src -type f -exec echo found {} +",
    "mkdir -p tmp/a; touch tmp/a/x.o tmp/y.o tmp/keep.c; find tmp -name '*.o' -delete; find tmp | sort; find . -maxdepth 1 -mindepth 1 -type d | sort",
    "base64 a.txt; base64 a.txt | base64 -d; printf 'hello' | base64 -w 4; printf 'aGk=' | base64 -d; echo",
    "sha256sum a.txt b.txt; printf 'x' | sha1sum; md5sum < a.txt; sha256sum missing.txt; echo status=$?",
    "nl a.txt; printf 'a\\n\\nb\\n' | nl; printf 'a\\n\\nb\\n' | nl -ba -w3 -s': '; nl -n rz -w 3 -v 10 -i 5 b.txt",
    "paste a.txt b.txt; paste -d, a.txt a.txt; paste -s -d: a.txt; printf '1\\n2\\n3\\n4\\n' | paste - -",
    "printf 'a\\nb\\nd\\n' > x.txt; printf 'b\\nc\\nd\\n' > y.txt; comm x.txt y.txt; comm -12 x.txt y.txt; comm -3 x.txt y.txt; comm -1 x.txt y.txt",
    "date -u -d @0 '+%Y-%m-%d %H:%M:%S %Z'; date -u -d '2024-02-29 13:45' '+%j %A %B %e %s'; date -u -d 2001-09-09 -I; date -u -d @86400 -R",
    "sort -t, -k2 -n data.csv; sort -t, -k2,2nr -k1,1 data.csv; sort -t, -u -k1,1 data.csv",
    "printf 'b 2\\na 10\\nc 1\\na 2\\n' | sort -k2n; printf 'b 2\\na 10\\nc 1\\na 2\\n' | sort -k1,1 -k2,2nr",
    "printf '10K\\n2M\\n512\\n1G\\n' | sort -h; printf 'B\\na\\nC\\nb\\n' | sort -f; printf 'x\\ny\\n' | sort -r -o out.txt; cat out.txt",
    "printf '  b\\na\\n c\\n' | sort -b; printf '3\\n1\\n2\\n' | sort -c; echo status=$?; printf 'a:3\\nb:1\\n' | sort -t: -k2.1,2.1",
    "printf 'x\\tb 2\\ny\\ta 1\\n' | sort -k2; printf '1.5\\n-2\\n1.25\\nabc\\n' | sort -n; printf 'a\\nA\\nb\\n' | sort -u",
    "[[ -e a.txt && -s a.txt && -r a.txt && ! -d a.txt ]] && echo file; [[ -d src && ! -L src ]] && echo dir",
    "printf '1 a\\n2 b\\n3 c\\n' > x; printf '1 X\\n3 Z\\n4 W\\n' > y; join x y; join -a1 x y; join -v2 x y; join -o 1.2,2.2 x y; join -a1 -a2 -e NA -o 0,1.2,2.2 x y",
    "printf 'k,a,b\\nm,c,d\\n' > x; printf 'k,1\\nk,2\\nz,3\\n' > y; join -t, x y; join -t , -a2 x y; printf 'A 1\\nb 2\\n' > u; printf 'a x\\nB y\\n' > v; join -i u v",
    "printf 'id name\\n1 ann\\n1 bob\\n' > x; printf 'id age\\n1 31\\n' > y; join --header x y; printf 'x 1\\ny 2\\n' > p; printf '1 x\\n2 y\\n' > q; join -1 2 -2 1 p q; join -j 1 -o 2.1,1.2 p p",
    "sleep 0.05; echo slept $?; sleep 0.01s 0.01; echo again $?",
    "ln -s src link; realpath link/main.rs a.txt . src/../notes; realpath -m nope/x; realpath --relative-to=src notes/todo.md; realpath -s link; readlink link; readlink -f link/../a.txt; readlink a.txt; echo $?",
    "realpath nope/x; echo $?; realpath -e nope; echo $?; ln -s loop1 loop2; ln -s loop2 loop1; realpath loop1; echo $?; realpath -q nope/y; echo $?",
    "stat -c '%n %s %F %a %A' a.txt src nums.txt; stat --printf '%s|%n\\n' b.txt .hidden; : > empty; stat -c %F empty; ln -s a.txt l; stat -c '%N %F' l; stat -L -c '%F %s' l; stat nope; echo $?",
    "touch -d '2020-01-02 03:04:05' a.txt; stat -c '%Y %X' a.txt; stat -c %s -- data.csv",
    "du -b a.txt nums.txt; du a.txt b.txt; du -ch a.txt b.txt; du -b src | cat; du -ab src | sort; du -sb . notes; du nope; echo $?",
    "printf -- '--- a/a.txt\\n+++ b/a.txt\\n@@ -1,3 +1,3 @@\\n alpha\\n-beta\\n+BETA\\n gamma\\n' > p.diff; patch -p1 < p.diff; echo $?; cat a.txt; patch -p1 -R -i p.diff; cat a.txt; patch -p1 --dry-run < p.diff; cat a.txt",
    "printf 'zero\\n' | cat - a.txt > t && mv t a.txt; printf -- '--- a/a.txt\\n+++ b/a.txt\\n@@ -1,3 +1,3 @@\\n alpha\\n-beta\\n+BETA\\n gamma\\n' | patch -p1; cat a.txt",
    "seq 1 20 > n.txt; printf -- '--- n.txt\\n+++ n.txt\\n@@ -2,3 +2,4 @@\\n 2\\n 3\\n+new\\n 4\\n@@ -10,3 +11,3 @@\\n 10\\n-11\\n+ELEVEN\\n 12\\n' > two.diff; sed -i '1i zero' n.txt; patch < two.diff; echo $?; head -14 n.txt | tr '\\n' ' '",
    "printf -- '--- a.txt\\n+++ a.txt\\n@@ -1,2 +1,2 @@\\n nope\\n-beta\\n+B\\n' | patch; echo $?; cat a.txt; printf -- '--- a.txt\\n+++ a.txt\\n@@ -1,2 +1,2 @@\\n alpha\\n-nope\\n+B\\n' | patch; echo $?; cat a.txt a.txt.rej",
    "printf -- '--- /dev/null\\n+++ b/new/f.txt\\n@@ -0,0 +1,2 @@\\n+x\\n+y\\n' | patch -p1; cat new/f.txt; printf -- '--- a/b.txt\\n+++ /dev/null\\n@@ -1 +0,0 @@\\n-second file\\n' | patch -p1; ls",
    "printf -- '--- src/main.rs\\n+++ src/main.rs\\n@@ -1 +1 @@\\n-fn main() {}\\n+fn main() { run(); }\\n' > p.diff; cd src && patch < ../p.diff && cat main.rs; cd ..; patch -N -p0 < p.diff; echo $?; patch -p0 -o out.rs -R < p.diff; cat out.rs",
    "printf 'diff --git a/a.txt b/a.txt\\nindex 1111111..2222222 100644\\n--- a/a.txt\\n+++ b/a.txt\\n@@ -2,2 +2,2 @@\\n beta\\n-gamma\\n+GAMMA\\ndiff --git a/b.txt b/b.txt\\n--- a/b.txt\\n+++ b/b.txt\\n@@ -1 +1,2 @@\\n second file\\n+more\\n' | patch; cat a.txt b.txt",
    "sed '1i first' a.txt; sed '$a last' a.txt; sed '2c\\\nchanged' a.txt; sed -n '$=' a.txt; sed '=' b.txt; sed 2q a.txt; sed -n '2{p;q}' a.txt",
    "sed -n '/alpha/,/beta/p' a.txt; sed '/beta/!d' a.txt; sed '1~2d' a.txt; sed -n '1,+1p' a.txt; sed '2,$d' a.txt; sed 'y/abg/ABG/' a.txt",
    "sed -i.bak 's/beta/BETA/' a.txt; cat a.txt a.txt.bak; sed -i -e '1d' -e 's/a/A/g' a.txt; cat a.txt; sed -ni '/ann/p' data.csv; cat data.csv",
    "sed 's/a/X/2' a.txt; sed 's/A/y/Ig' a.txt; sed -E 's/(al)(pha)/\\2\\1/' a.txt; sed 'N;s/\\n/+/' a.txt; sed '$!N;P;D' a.txt",
    "sed -n 'h;n;G;p' a.txt; sed ':a;N;$!ba;s/\\n/,/g' a.txt; sed -e :x -e 's/^a//;tx' a.txt; sed '/beta/{s/b/B/;s/t/T/}' a.txt; printf 'x\\ny' | sed 's/y/z/'; echo; sed 3Q a.txt; sed '2,3c\\\nGONE' a.txt",
    "declare -A m; m[one]=1; m[two]=2; m[\"three four\"]=34; echo ${m[one]} ${m[three four]} ${#m[@]}; for k in \"${!m[@]}\"; do echo \"$k=${m[$k]}\"; done | sort",
    "declare -A c; for w in a b a c a b; do ((c[$w]++)); done; for k in \"${!c[@]}\"; do echo \"$k ${c[$k]}\"; done | sort; echo ${c[a]}; unset 'c[a]'; echo ${#c[@]} ${c[a]:-gone}",
    "declare -A cfg=([host]=localhost [port]=8080); echo ${cfg[host]}:${cfg[port]}; cfg+=([user]=me); k=port; echo ${cfg[$k]} ${#cfg[@]}; [[ -v cfg[host] ]] && echo has-host; [[ -v cfg[nope] ]] || echo no-nope",
    "f() { local -A seen=(); local x; for x in b a b; do [[ -n ${seen[$x]} ]] && continue; seen[$x]=1; echo first $x; done; echo ${#seen[@]}; }; f; echo \"outside: ${#seen[@]}\"",
    "declare -A m=([k]=v); m[k]+=w; echo ${m[k]}; declare -a arr=(1 2); declare -A arr 2>/dev/null; echo status=$?; x=5; declare -i x; echo $x; declare -A e; echo ${#e[@]} \"${e[missing]}\"",
    "gzip -k a.txt; ls a.txt*; gzip -dc a.txt.gz; zcat a.txt.gz | wc -l; rm a.txt; gunzip a.txt.gz; cat a.txt; ls",
    "gzip b.txt; ls; gzip b.txt.gz; echo $?; gunzip -c b.txt.gz; printf 'x\\n' | gzip | gzip -d; gzip -d nums.txt; echo $?; gzip -d < a.txt 2>/dev/null; echo $?",
    "tar czf x.tgz src notes; tar tzf x.tgz | sort; mkdir out; tar xzf x.tgz -C out; cat out/src/main.rs out/notes/todo.md; tar -tf x.tgz src/main.rs",
    "tar -cf a.tar a.txt b.txt; tar -xOf a.tar b.txt; mkdir d; tar -x -f a.tar -C d; ls d; tar cf - src | tar tf - | sort; tar --list --file=a.tar; rm a.tar",
    "mkdir -p deep/x; echo hi > deep/x/f; tar czf d.tgz deep; rm -r deep; tar xzf d.tgz --strip-components=1; ls; cat x/f; tar czf e.tgz --exclude='*.rs' src; tar tzf e.tgz; tar -czvf v.tgz notes",
];

fn fixture() -> Fixture {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\nbeta\ngamma\n");
    fx.file("b.txt", "second file\n");
    fx.file("nums.txt", "10\n9\n100\n-3\n");
    fx.file("data.csv", "name,age\nann,31\nbob,25\nann,31\n");
    fx.file("src/main.rs", "fn main() {}\n");
    fx.file("src/lib.rs", "pub fn lib() {}\n");
    fx.file("notes/todo.md", "- write tests\n");
    fx.file(".hidden", "secret-ish\n");
    fx
}

/// Every file under `dir`, relative path to content.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                files.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn bash_is_the_oracle() {
    let mut failures = Vec::new();
    for script in ORACLE {
        let theirs = fixture();
        let bash = std::process::Command::new("bash")
            .args(["-c", &format!("{{ {script}\n}} 2>&1")])
            .current_dir(&theirs.ws)
            .env_clear()
            .env("LC_ALL", "C")
            .env("HOME", &theirs.ws)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let bash_out = String::from_utf8_lossy(&bash.stdout).replace(theirs.ws.to_str().unwrap(), "$ROOT");

        let ours = fixture();
        let result = call("bash", json!({"command": script}), &ours.read_write()).await.unwrap();
        let our_out = result.output.replace(ours.ws.to_str().unwrap(), "$ROOT");
        let our_status = result.metadata["exit"].as_i64().unwrap();

        let mut problems = Vec::new();
        if our_out != bash_out {
            problems.push(format!("output\n  bash: {bash_out:?}\n  ours: {our_out:?}"));
        }
        if Some(our_status as i32) != bash.status.code() {
            problems.push(format!("status: bash {:?}, ours {our_status}", bash.status.code()));
        }
        if snapshot(&ours.ws) != snapshot(&theirs.ws) {
            problems.push(format!("files\n  bash: {:?}\n  ours: {:?}", snapshot(&theirs.ws), snapshot(&ours.ws)));
        }
        if !problems.is_empty() {
            failures.push(format!("script {script:?}:\n{}", problems.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ from bash:\n\n{}",
        failures.len(),
        ORACLE.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn the_issue_example_works_and_writes_inside_only() {
    let fx = fixture();
    let out = wasmgate(&[
        "tool",
        "call",
        "bash",
        r#"{"command":"ls | wc -l && echo ok > out.txt"}"#,
        "--root",
        fx.ws.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "6\n");
    assert_eq!(std::fs::read_to_string(fx.ws.join("out.txt")).unwrap(), "ok\n");
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn the_shell_cannot_leave_the_workspace() {
    let fx = fixture();
    let outside = fx.outside.to_str().unwrap();
    let scripts = [
        "cat ../outside.txt".to_string(),
        format!("cat {outside}"),
        "cd ..; ls; cat outside.txt".into(),
        "cd /; ls; cat etc/hostname".into(),
        "ln -s / root; cat root/etc/hostname".into(),
        "echo pwned > ../pwned.txt; echo pwned >> ../outside.txt".into(),
        format!("echo pwned > {outside}"),
        "cp ../outside.txt stolen.txt; cat stolen.txt".into(),
        "mv a.txt ../moved.txt; rm -rf ..; rm -rf /".into(),
        "grep -r SECRET ..; find .. -name outside.txt".into(),
        "mkdir ../made; touch ../touched; tee ../teed < a.txt".into(),
        "cat < ../outside.txt; echo *; echo ../*".into(),
        // The language's own ways to open a file: each resolves inside.
        "source ../outside.txt; . ../outside.txt; echo $SECRET".into(),
        format!("source {outside}; . {outside}"),
        "while read -r l; do echo \"$l\"; done < ../outside.txt; read -r x < ../outside.txt; echo $x".into(),
        format!("read -r x < {outside}; echo $x; mapfile < {outside}"),
        "[[ -f ../outside.txt ]] && echo found-outside; [ -e ../outside.txt ] && echo found-outside".into(),
        format!("[[ -e {outside} ]] && echo found-outside; test -s {outside} && echo found-outside"),
        "ln -s ../outside.txt link; source link; read -r x < link; echo $x; [[ -f link ]] && echo found-outside".into(),
        // The commands that read or write files by name of their own.
        "awk '{ print }' ../outside.txt; jq -R . ../outside.txt; base64 ../outside.txt; sha256sum ../outside.txt"
            .into(),
        format!("awk 'BEGIN {{ while ((getline l < \"{outside}\") > 0) print l; print \"pwned\" > \"{outside}\" }}'"),
        "awk 'BEGIN { while ((getline l < \"../outside.txt\") > 0) print l; print 1 > \"../pwned.txt\" }'".into(),
        format!("find .. -name outside.txt -delete; find / -name outside.txt; find . -exec cat {outside} \\;"),
        format!("touch -r {outside} t; sort -o ../sorted.txt a.txt; sort {outside}; paste {outside} a.txt"),
        "ln -s ../outside.txt link; realpath link; readlink -f link; stat -L link; du -L link; du -b ../outside.txt".into(),
        format!("stat {outside}; join {outside} a.txt; sed -n p ../outside.txt; sed -i.bak s/x/y/ link; sed -i s/S/X/ {outside}"),
        format!("realpath ../outside.txt {outside}; ln -s {outside} abs; realpath abs; stat -L abs; cd ..; realpath -m x"),
        // patch, told to change, create or back up files outside in every way it names them.
        "printf -- '--- ../outside.txt\\n+++ ../outside.txt\\n@@ -1 +1 @@\\n-x\\n+pwned\\n' | patch -p0".into(),
        format!("printf -- '--- {outside}\\n+++ {outside}\\n@@ -1 +1 @@\\n-x\\n+pwned\\n' | patch -p0 -b"),
        "printf -- '--- /dev/null\\n+++ b/../pwned.txt\\n@@ -0,0 +1 @@\\n+pwned\\n' | patch -p1".into(),
        "printf -- '--- a.txt\\n+++ a.txt\\n@@ -1 +1 @@\\n-alpha\\n+pwned\\n' | patch -o ../out.txt; cat ../out.txt".into(),
        "printf -- '--- a.txt\\n+++ a.txt\\n@@ -1 +1 @@\\n-nope\\n+pwned\\n' | patch -d .. -p0; patch -i ../outside.txt".into(),
        "ln -s ../outside.txt link; printf -- '--- link\\n+++ link\\n@@ -1 +1 @@\\n-x\\n+pwned\\n' | patch -b".into(),
        // The archive commands, by name and through a link.
        format!("gzip -k ../outside.txt; gzip -c {outside}; zcat ../outside.txt; tar czf ../out.tgz a.txt; tar cf - ..; tar cf - {outside}"),
        "ln -s ../outside.txt link; gzip -c link; tar cf - link | tar xOf -; tar czf x.tgz a.txt; tar xzf x.tgz -C ..".into(),
    ];
    for script in &scripts {
        let result = call("bash", json!({"command": script}), &fx.read_write()).await.unwrap();
        assert_no_secret(&result.output);
        assert!(!result.output.contains("outside.txt\n") || script.contains("echo"), "{script}: {}", result.output);
        assert!(!result.output.contains("found-outside"), "{script}: {}", result.output);
    }
    fx.assert_outside_untouched();
    assert!(fx.ws.join("a.txt").exists(), "a.txt was moved out");
    let read_only =
        call("bash", json!({"command": "echo x > new.txt; rm a.txt; mkdir d; echo status=$?"}), &fx.read_only())
            .await
            .unwrap();
    assert!(read_only.output.ends_with("status=1\n"), "{}", read_only.output);
    assert!(!fx.ws.join("new.txt").exists() && fx.ws.join("a.txt").exists() && !fx.ws.join("d").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_archive_extracts_only_inside() {
    // Members that climb out, absolute ones, and the classic pair: a link
    // to outside, then a member written through it.
    let fx = fixture();
    let outside_dir = fx.outside.parent().unwrap().display().to_string();
    let build = format!(
        r#"
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    def add(name, data=b"pwned\n"):
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
    def link(name, target):
        info = tarfile.TarInfo(name); info.type = tarfile.SYMTYPE; info.linkname = target; t.addfile(info)
    add("../pwned.txt")
    add("/tmp/wasmgate-abs-pwned.txt")
    link("up", "..")
    add("up/pwned2.txt")
    link("far", "{outside_dir}")
    add("far/pwned3.txt")
    link("sneaky", "{outside}")
    add("sneaky")
    add("fine.txt", b"fine\n")
"#,
        outside = fx.outside.display()
    );
    let made =
        std::process::Command::new("python3").args(["-c", &build, fx.ws.join("evil.tgz").to_str().unwrap()]).status();
    assert!(made.unwrap().success());
    let result = call("bash", json!({"command": "tar xzvf evil.tgz; echo status=$?; cat fine.txt"}), &fx.read_write())
        .await
        .unwrap();
    assert_no_secret(&result.output);
    assert!(result.output.contains("status=2\nfine\n"), "{}", result.output);
    fx.assert_outside_untouched();
    assert!(!std::path::Path::new("/tmp/wasmgate-abs-pwned.txt").exists());
    // `sneaky` was a link out: the member replaced the link inside, never
    // wrote through it.
    assert_eq!(std::fs::read_to_string(fx.ws.join("sneaky")).unwrap(), "pwned\n");
    assert!(!fx.ws.join("up/pwned2.txt").exists() || fx.ws.join("up").is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_scripts_are_stopped_and_the_next_one_runs() {
    let fx = fixture();
    let grant = fx.read_write();
    let spin = call("bash", json!({"command": "while true; do :; done"}), &grant).await.unwrap_err();
    assert_eq!(spin, CallError::Timeout(TEST_LIMITS.deadline));
    let flood = call("bash", json!({"command": "yes | head -c 100000000"}), &grant).await.unwrap_err();
    assert!(matches!(flood, CallError::MemoryLimit(_) | CallError::OutputLimit(_)), "{flood:?}");
    let direct = call("bash", json!({"command": "yes"}), &grant).await.unwrap_err();
    assert_eq!(direct, CallError::OutputLimit(TEST_LIMITS.output));
    let next = call("bash", json!({"command": "echo still fine"}), &grant).await.unwrap();
    assert_eq!(next.output, "still fine\n");
    // The language's own ways to run away: a loop in arithmetic, endless
    // recursion, a function that calls itself twice at every level, a
    // variable whose value names itself.
    let counting = call("bash", json!({"command": "for ((i = 0; 1; i++)); do :; done"}), &grant).await.unwrap_err();
    assert_eq!(counting, CallError::Timeout(TEST_LIMITS.deadline));
    let deep = call("bash", json!({"command": "f() { f; }; f; echo after $?"}), &grant).await.unwrap();
    assert!(deep.output.contains("maximum function nesting level exceeded"), "{}", deep.output);
    assert_eq!(deep.metadata["exit"], 1, "the script ends there");
    let wide = call("bash", json!({"command": "f() { f | f; }; f"}), &grant).await;
    assert!(matches!(wide, Err(CallError::Timeout(_)) | Ok(_)), "{wide:?}");
    let named = call("bash", json!({"command": "a=b; b=a; echo $((a + 1))"}), &grant).await.unwrap();
    assert!(named.output.contains("expression recursion level exceeded"), "{}", named.output);
    let next = call("bash", json!({"command": "echo still fine"}), &grant).await.unwrap();
    assert_eq!(next.output, "still fine\n");
}

#[tokio::test]
async fn syntax_errors_and_unknown_commands_answer_like_bash() {
    let fx = fixture();
    let grant = fx.read_write();
    let syntax = call("bash", json!({"command": "if then fi ("}), &grant).await.unwrap();
    assert_eq!(syntax.metadata["exit"], 2);
    assert!(syntax.output.contains("syntax error"), "{}", syntax.output);
    let unknown = call("bash", json!({"command": "frobnicate --now"}), &grant).await.unwrap();
    assert_eq!(unknown.metadata["exit"], 127);
    assert_eq!(unknown.output, "bash: frobnicate: command not found\n");
}

/// A sandbox whose shell may run host processes (a trusted single-user host).
async fn trusted() -> wasmgate::sandbox::Sandbox {
    wasmgate::sandbox::Sandbox::builder()
        .limits(TEST_LIMITS)
        .cache(wasmgate::sandbox::CompileCache::at(crate::util::cache_dir()))
        .processes(wasmgate::sandbox::Processes::Trusted)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_run_only_where_allowed_and_inside_the_workspace() {
    let fx = fixture();
    let script = json!({"command": "mkdir -p sub; cd sub; uname -s; sh -c pwd; echo $?"}).to_string();
    let default = crate::util::sandbox().call("bash", &script, &fx.read_write()).await.unwrap();
    assert!(default.output.contains("bash: uname: command not found"), "{}", default.output);
    assert!(default.output.contains("bash: sh: command not found"), "{}", default.output);

    let sandbox = trusted().await;
    let allowed = sandbox.call("bash", &script, &fx.read_write()).await.unwrap();
    assert_eq!(allowed.output, format!("Linux\n{}/sub\n0\n", fx.ws.display()));
    let piped =
        sandbox.call("bash", &json!({"command": "printf 'b\\na\\n' | sh -c sort"}).to_string(), &fx.read_write()).await;
    assert_eq!(piped.unwrap().output, "a\nb\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_keep_the_deadline_and_the_output_cap() {
    let fx = fixture();
    let sandbox = trusted().await;
    let started = std::time::Instant::now();
    let slow = sandbox.call("bash", &json!({"command": "sleep 30"}).to_string(), &fx.read_write()).await;
    assert_eq!(slow.unwrap_err(), CallError::Timeout(TEST_LIMITS.deadline));
    assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "took {:?}", started.elapsed());
    let loud =
        sandbox.call("bash", &json!({"command": "sh -c 'yes | head -c 5000000'"}).to_string(), &fx.read_write()).await;
    match loud {
        Err(error) => assert_eq!(error, CallError::OutputLimit(TEST_LIMITS.output)),
        Ok(output) => panic!("expected the output cap, got {} bytes of output", output.output.len()),
    }
    let next = sandbox.call("bash", &json!({"command": "echo fine"}).to_string(), &fx.read_write()).await.unwrap();
    assert_eq!(next.output, "fine\n");
}

#[test]
fn tool_list_says_whether_host_processes_are_on() {
    let off = wasmgate(&["tool", "list"]);
    assert!(String::from_utf8_lossy(&off.stdout).starts_with("shell: built-in commands only (processes off)"));
    let on = wasmgate(&["tool", "list", "--allow-host-processes"]);
    assert!(String::from_utf8_lossy(&on.stdout).starts_with("shell: built-in commands, and host processes"));
    let trusted = wasmgate(&["tool", "list", "--processes", "trusted"]);
    assert!(String::from_utf8_lossy(&trusted.stdout).starts_with("shell: built-in commands, and host processes"));
    let both = wasmgate(&["tool", "list", "--processes", "off", "--allow-host-processes"]);
    assert_eq!(both.status.code(), Some(2), "the two spellings conflict");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_never_run_under_a_read_only_grant() {
    let fx = fixture();
    let sandbox = trusted().await;
    for command in ["sh -c 'echo x > made.txt'", "/usr/bin/touch made.txt", "python3 -c \"open('made.txt','w')\""] {
        let script = json!({ "command": format!("{command}; echo status=$?") }).to_string();
        let result = sandbox.call("bash", &script, &fx.read_only()).await.unwrap();
        assert!(result.output.contains("read-only"), "{command}: {}", result.output);
        assert!(result.output.ends_with("status=126\n"), "{command}: {}", result.output);
        assert!(!fx.ws.join("made.txt").exists(), "{command} wrote under a read-only grant");
    }
}

/// Whether a process whose command line holds `marker` is alive.
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker))
            .unwrap_or(false)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_a_host_process_starts_outlives_its_call() {
    let fx = fixture();
    let sandbox = trusted().await;
    let started = std::time::Instant::now();
    // In the background, the call itself ends at once; at the deadline, the
    // whole group goes.
    for (command, marker) in
        [("sh -c 'sleep 97.31 & echo bg'", "sleep 97.31"), ("sh -c 'sleep 97.37 & sleep 60'", "sleep 97.37")]
    {
        let result = sandbox.call("bash", &json!({ "command": command }).to_string(), &fx.read_write()).await;
        assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "{command} held the call: {:?}", started.elapsed());
        if command.contains("echo bg") {
            assert_eq!(result.unwrap().output, "bg\n");
        } else {
            assert_eq!(result.unwrap_err(), CallError::Timeout(TEST_LIMITS.deadline));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!running(marker), "{marker} outlived the call");
    }
}
