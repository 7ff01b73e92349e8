namespace Kettle.Tool.Tests;

/// <summary>ps and pstree from hand-made snapshots: asyncio's rules, without a process.</summary>
public sealed class RenderingTests
{
    private static FrameView F(string name, string file = "", int line = 0) => new() { Name = name, File = file, Line = line };

    private static TaskView T(long id, string name, FrameView[] frames, params long[] awaitedBy) =>
        new() { Id = id, Name = name, State = "waiting", Frames = [.. frames], AwaitedBy = [.. awaitedBy] };

    private static Snapshot Of(params TaskView[] tasks) =>
        new() { Version = 1, Pid = 42, Introspection = true, Loops = [new LoopView { Loop = 1, ThreadId = 777, Tasks = [.. tasks] }] };

    [Fact]
    public void Pstree_SiblingsAwaitingFromTheSameFrame_ShareOneFrameNode()
    {
        var s = Of(
            T(1, "main", [F("TaskGroup.ExitAsync"), F("Main", "/app/p.cs", 3)]),
            T(2, "a", [F("Work", "/app/p.cs", 9)], 1),
            T(3, "b", [F("Work", "/app/p.cs", 9)], 1),
            T(4, "lonely", [F("Inner"), F("Outer")]));

        Assert.Equal(
        [
            "└── (T) main",
            "    └──  Main /app/p.cs:3",
            "        └──  TaskGroup.ExitAsync",
            "            ├── (T) a",
            "            │   └──  Work /app/p.cs:9",
            "            └── (T) b",
            "                └──  Work /app/p.cs:9",
            "└── (T) lonely",
            "    └──  Outer",
            "        └──  Inner",
        ], PsTree.Render(s));
    }

    [Fact]
    public void Pstree_TaskAwaitedTwice_AppearsUnderEachAwaiter()
    {
        var s = Of(
            T(1, "x", [F("X")]),
            T(2, "y", [F("Y")]),
            T(3, "shared", [F("S")], 1, 2));

        Assert.Equal(
        [
            "└── (T) x",
            "    └──  X",
            "        └── (T) shared",
            "            └──  S",
            "└── (T) y",
            "    └──  Y",
            "        └── (T) shared",
            "            └──  S",
        ], PsTree.Render(s));
        Assert.Empty(PsTree.Cycles(s));
    }

    [Fact]
    public void Cycles_ThreeTasksAndASelfAwait_EachReportedWithItsStartRepeated()
    {
        var s = Of(
            T(1, "a", [F("A")], 3),
            T(2, "b", [F("B")], 1),
            T(3, "c", [F("C")], 2),
            T(4, "me", [F("M")], 4),
            T(5, "orphan", [F("O")], 0x99));

        var cycles = PsTree.Cycles(s);

        Assert.Equal(["cycle: c → a → b → c", "cycle: me → me"], PsTree.DescribeCycles(s, cycles));
    }

    [Fact]
    public void Ps_UnknownAwaiter_NamedUnknownWithItsHexId()
    {
        var rows = PsTable.Rows(Of(T(0x10, "t", [F("Inner"), F("Outer")], 0xab)));

        Assert.Equal([new PsRow(777, 0x10, "t", "Inner -> Outer", "", "Unknown", 0xab)], rows);
    }

    [Fact]
    public void Ps_Csv_QuotesCellsWithCommasOrQuotes()
    {
        var o = new StringWriter { NewLine = "\n" };

        PsTable.Write(Of(T(1, "say \"hi\", then go", [F("Main")])), "csv", o);

        Assert.Equal("tid,task id,task name,coroutine stack,awaiter chain,awaiter name,awaiter id\n777,0x1,\"say \"\"hi\"\", then go\",Main,,,0x0\n", o.ToString());
    }

    [Fact]
    public void Ps_Table_HeaderThenDashesThenPaddedRows()
    {
        var o = new StringWriter { NewLine = "\n" };

        PsTable.Write(Of(T(1, "main", [F("Main")])), "table", o);

        var lines = o.ToString().Split('\n');
        Assert.Equal(
            "tid        task id              task name            coroutine stack                                    awaiter chain                                      awaiter name    awaiter id     ",
            lines[0]);
        Assert.Equal(new string('-', 180), lines[1]);
        Assert.Equal($"{"777",-10} {"0x1",-20} {"main",-20} {"Main",-50} {"",-50} {"",-15} {"0x0",-15}", lines[2]);
    }

    [Theory]
    [InlineData(1000u, 1000u, false)]
    [InlineData(1000u, 1001u, true)]
    [InlineData(1000u, 0u, false)]
    [InlineData(null, 1001u, false)]
    public void PermissionRule_OnlyTheOwnerOrRootMayConnect(uint? owner, uint me, bool refused)
    {
        Assert.Equal(refused, SnapshotClient.BelongsToAnotherUser(owner, me));
    }

    [Fact]
    public void Parse_UnknownSnapshotVersion_RefusedWithStatus1()
    {
        var ex = Assert.Throws<ToolException>(() => Snapshot.Parse("""{"version": 2, "pid": 7, "loops": []}"""));

        Assert.Equal(ExitCodes.Failed, ex.ExitCode);
        Assert.Contains("snapshot version 2", ex.Message, StringComparison.Ordinal);
    }
}
