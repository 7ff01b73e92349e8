namespace Kettle.Tool;

/// <summary>
/// <c>kettle pstree PID</c>: asyncio's <c>python -m asyncio pstree</c>. Nodes are tasks ("(T) name") and coroutine
/// frames (an empty marker, hence two spaces after the branch); each awaiter edge becomes awaiter task → its frames,
/// outermost first → the awaited task; a task that awaits nothing shows its own stack below it.
/// </summary>
internal static class PsTree
{
    /// <summary>The await cycles, as task id paths whose first id is repeated at the end (empty if none).</summary>
    public static List<List<long>> Cycles(Snapshot s)
    {
        // awaiter → awaited, in the order the edges appear.
        var graph = new Dictionary<long, List<long>>();
        foreach (var (awaiter, _, awaited) in Edges(s))
        {
            if (!graph.TryGetValue(awaiter, out var next))
            {
                graph[awaiter] = next = [];
            }
            next.Add(awaited);
        }
        var color = new Dictionary<long, int>(); // 0 unseen, 1 on the path, 2 done
        var path = new List<long>();
        var cycles = new List<List<long>>();
        void Visit(long v)
        {
            color[v] = 1;
            path.Add(v);
            foreach (var w in graph.GetValueOrDefault(v) ?? [])
            {
                int c = color.GetValueOrDefault(w);
                if (c == 0)
                {
                    Visit(w);
                }
                else if (c == 1)
                {
                    var cycle = path.Skip(path.IndexOf(w)).ToList();
                    cycle.Add(w);
                    cycles.Add(cycle);
                }
            }
            color[v] = 2;
            path.RemoveAt(path.Count - 1);
        }
        foreach (var v in graph.Keys.ToList())
        {
            if (color.GetValueOrDefault(v) == 0)
            {
                Visit(v);
            }
        }
        return cycles;
    }

    /// <summary>"cycle: A → B → A" for each cycle; unknown ids in hex.</summary>
    public static IEnumerable<string> DescribeCycles(Snapshot s, List<List<long>> cycles)
    {
        var names = s.Loops.SelectMany(l => l.Tasks).GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.First().Name);
        return cycles.Select(c => "cycle: " + string.Join(" \u2192 ", c.Select(id => names.TryGetValue(id, out var n) ? n : PsRow.Hex(id))));
    }

    /// <summary>(awaiter id, the awaiter's frames innermost first, awaited id), task by task in id order.</summary>
    private static IEnumerable<(long Awaiter, List<FrameView> Stack, long Awaited)> Edges(Snapshot s)
    {
        foreach (var loop in s.Loops)
        {
            var byId = loop.Tasks.ToDictionary(t => t.Id);
            foreach (var t in loop.Tasks.OrderBy(t => t.Id))
            {
                foreach (var a in t.AwaitedBy)
                {
                    yield return (a, byId.TryGetValue(a, out var awaiter) ? awaiter.Frames : [], t.Id);
                }
            }
        }
    }

    /// <summary>The drawing: one block per root, roots in the order their nodes were first made.</summary>
    public static List<string> Render(Snapshot s)
    {
        var labels = new List<string>();                 // node index → label
        var children = new List<List<int>>();            // node index → children, in insertion order
        var frameNodes = new Dictionary<(int Parent, string Label), int>();
        var taskNodes = new Dictionary<long, int>();
        var names = s.Loops.SelectMany(l => l.Tasks).GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.First().Name);

        int NewNode(string label)
        {
            labels.Add(label);
            children.Add([]);
            return labels.Count - 1;
        }
        int TaskNode(long id)
        {
            if (!taskNodes.TryGetValue(id, out var n))
            {
                taskNodes[id] = n = NewNode("(T) " + (names.TryGetValue(id, out var name) ? name : PsRow.Hex(id)));
            }
            return n;
        }
        int FrameNode(int parent, FrameView frame)
        {
            var label = " " + frame; // the coroutine marker is empty: "└── " + "" + " " + frame
            if (!frameNodes.TryGetValue((parent, label), out var n))
            {
                frameNodes[(parent, label)] = n = NewNode(label);
                children[parent].Add(n);
            }
            return n;
        }

        var awaiting = new HashSet<long>();
        foreach (var (awaiter, stack, awaited) in Edges(s))
        {
            awaiting.Add(awaiter);
            int cur = TaskNode(awaiter);
            for (int i = stack.Count - 1; i >= 0; i--)
            {
                cur = FrameNode(cur, stack[i]);
            }
            int child = TaskNode(awaited);
            if (!children[cur].Contains(child))
            {
                children[cur].Add(child);
            }
        }
        foreach (var loop in s.Loops)
        {
            foreach (var t in loop.Tasks.OrderBy(t => t.Id))
            {
                if (awaiting.Contains(t.Id))
                {
                    continue;
                }
                int cur = TaskNode(t.Id);
                for (int i = t.Frames.Count - 1; i >= 0; i--)
                {
                    cur = FrameNode(cur, t.Frames[i]);
                }
            }
        }

        var pointedTo = children.SelectMany(c => c).ToHashSet();
        var lines = new List<string>();
        for (int root = 0; root < labels.Count; root++)
        {
            if (!pointedTo.Contains(root))
            {
                Draw(root, "", true);
            }
        }
        return lines;

        void Draw(int node, string prefix, bool last)
        {
            lines.Add(prefix + (last ? "└── " : "├── ") + labels[node]);
            var kids = children[node];
            for (int i = 0; i < kids.Count; i++)
            {
                Draw(kids[i], prefix + (last ? "    " : "│   "), i == kids.Count - 1);
            }
        }
    }
}
