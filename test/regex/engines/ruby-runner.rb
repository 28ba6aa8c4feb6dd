# Ruby (Onigmo) engine runner for the regex tests. One process handles every pattern and line.
#
# The patterns are read the way Fluentd reads them: from fluentd/parsers/duo-regex.conf, the
# `expression` value taken as Fluentd's config parser takes an unquoted value (to the end of the line,
# trailing blanks dropped), then compiled by the same code as Fluent::Config.regexp_value.
#
# Request (JSON file, ARGV[0]): {"conf": path, "ids": [pattern ids], "lines": [...],
#                                "mode": "match" | "time", "reps": n}
# Output: one JSON array per (pattern, line): [id, line_index, null | {name: value|null}]   (match)
#                                          or [id, line_index, best_ns]                  (time)
# In match mode a capture named `time` also yields a 4th element: the epoch seconds Fluentd's
# TimeParser (no time_format: Fluent::EventTime.parse, i.e. Time.parse) gives it, or an error text.
require 'json'
require 'time'

# Fluent::Config.regexp_value (lib/fluent/config/types.rb)
def regexp_value(str)
  return Regexp.compile(str) unless str.start_with?('/')
  right_slash_position = str.rindex('/')
  raise "invalid regexp: missing right slash: #{str}" if right_slash_position < str.size - 3
  options = str[(right_slash_position + 1)..-1]
  option = 0
  option |= Regexp::IGNORECASE if options.include?('i')
  option |= Regexp::MULTILINE if options.include?('m')
  Regexp.compile(str[1...right_slash_position], option)
end

req = JSON.parse(File.read(ARGV[0], encoding: 'UTF-8'))
patterns = {}
current = nil
File.foreach(req['conf'], encoding: 'UTF-8') do |l|
  if (m = /\A# ([a-z]+\.[a-z_]+): /.match(l))
    current = m[1]
  elsif (m = /\A\s*expression (.*?)[ \t]*\r?\n?\z/.match(l))
    raise "expression without a pattern id comment" unless current
    raise "a # in an unquoted Fluentd value may start a comment" if m[1].include?(' #')
    patterns[current] = regexp_value(m[1])
    current = nil
  end
end

lines = req['lines']
out = $stdout
out.sync = false
clock = Process::CLOCK_MONOTONIC
req['ids'].each do |id|
  re = patterns.fetch(id) { raise "pattern #{id} not found in #{req['conf']}" }
  names = re.names
  lines.each_with_index do |line, li|
    if req['mode'] == 'time'
      re.match(line)
      best = nil
      req['reps'].times do
        t0 = Process.clock_gettime(clock, :nanosecond)
        re.match(line)
        dt = Process.clock_gettime(clock, :nanosecond) - t0
        best = dt if best.nil? || dt < best
      end
      out.puts JSON.generate([id, li, best])
    else
      m = re.match(line)
      res = m && names.each_with_object({}) { |n, h| h[n] = m[n] }
      row = [id, li, res]
      if res && res['time']
        row << (begin
          Time.parse(res['time']).to_r.floor
        rescue ArgumentError => e
          "unparsable: #{e.message}"
        end)
      end
      out.puts JSON.generate(row)
    end
  end
end
out.flush
