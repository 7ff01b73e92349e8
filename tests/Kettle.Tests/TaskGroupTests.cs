namespace Kettle.Tests;

/// <summary>TaskGroup, mirroring CPython's Lib/test/test_asyncio/test_taskgroups.py (SEMANTICS.md §3).</summary>
public class TaskGroupTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    [Fact]
    public void Run_ChildrenSucceed_WaitsForAllAndReturnsAfterTheLongest()
    {
        // test_taskgroup_01
        static async Coroutine<(int, int, double)> Main()
        {
            AioTask<int> a = null!, b = null!;
            await TaskGroup.Run(async tg =>
            {
                a = tg.CreateTask(Co.Return(42, 0.1));
                b = tg.CreateTask(Co.Return(11, 0.3));
                await Aio.Yield();
            });
            return (a.Result, b.Result, Now);
        }

        Assert.Equal((42, 11, 0.3), Virtual.Run(Main()));
    }

    [Fact]
    public void RunOfT_BodyReturnsValue_ValueReturnedAfterChildren()
    {
        static async Coroutine<(string, bool)> Main()
        {
            AioTask child = null!;
            var v = await TaskGroup.Run(async tg =>
            {
                child = tg.CreateTask(Co.Sleep(1));
                await Aio.Yield();
                return "body";
            });
            return (v, child.IsDone);
        }

        Assert.Equal(("body", true), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_ChildFails_SiblingsAndBodyAwaitCancelled()
    {
        // test_taskgroup_03 / test_taskgroup_07: the first failure cancels the other children and the body's await.
        static async Coroutine<(List<string>, ExceptionGroup?, double)> Main()
        {
            var log = new List<string>();
            async Coroutine Sibling()
            {
                try
                {
                    await Aio.Sleep(10);
                    log.Add("sibling finished");
                }
                catch (CancelledException)
                {
                    log.Add("sibling cancelled");
                    throw;
                }
            }

            ExceptionGroup? caught = null;
            try
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(Sibling());
                    _ = tg.CreateTask(Co.Throw(new ArgumentException("boom"), 1));
                    try
                    {
                        await Aio.Sleep(10);
                        log.Add("body finished");
                    }
                    catch (CancelledException)
                    {
                        log.Add("body cancelled");
                        throw;
                    }
                });
            }
            catch (ExceptionGroup eg)
            {
                caught = eg;
            }
            return (log, caught, Now);
        }

        var (log, eg, time) = Virtual.Run(Main());

        Assert.Equal(["body cancelled", "sibling cancelled"], log.Order());
        Assert.NotNull(eg);
        var only = Assert.Single(eg.Exceptions);
        Assert.IsType<ArgumentException>(only);
        Assert.Equal("unhandled errors in a TaskGroup", eg.GroupMessage);
        Assert.Equal("unhandled errors in a TaskGroup (1 sub-exception)", eg.Message);
        Assert.Equal(1, time);
    }

    [Fact]
    public void Run_SeveralChildrenFail_ErrorsInCompletionOrderBodyErrorLast()
    {
        // test_taskgroup_08 (errors in completion order) and test_taskgroup_10 (the body's own error last).
        static async Coroutine<string[]> Main()
        {
            async Coroutine FailIgnoringCancel(string msg, double at)
            {
                try
                {
                    await Aio.Sleep(at);
                }
                catch (CancelledException)
                {
                    // Keep going: fail anyway, after the group was already aborting.
                    await Aio.Sleep(at);
                }
                throw new TestException(msg);
            }

            try
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(FailIgnoringCancel("third", 3));
                    _ = tg.CreateTask(FailIgnoringCancel("first", 1));
                    _ = tg.CreateTask(FailIgnoringCancel("second", 2));
                    try
                    {
                        await Aio.Sleep(10);
                    }
                    catch (CancelledException)
                    {
                        throw new InvalidOperationException("body");
                    }
                });
            }
            catch (ExceptionGroup eg)
            {
                return eg.Exceptions.Select(e => e.Message).ToArray();
            }
            return [];
        }

        Assert.Equal(["first", "second", "third", "body"], Virtual.Run(Main()));
    }

    [Fact]
    public void Run_ChildCancelled_NotAnErrorAndOthersContinue()
    {
        // test_taskgroup_06-ish: a cancelled child is ignored (no error, no abort).
        static async Coroutine<(bool, int, double)> Main()
        {
            AioTask victim = null!;
            AioTask<int> other = null!;
            await TaskGroup.Run(async tg =>
            {
                victim = tg.CreateTask(Co.Sleep(10));
                other = tg.CreateTask(Co.Return(7, 2));
                await Aio.Sleep(1);
                victim.Cancel();
            });
            return (victim.IsCancelled, other.Result, Now);
        }

        Assert.Equal((true, 7, 2.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_CancelledFromOutside_CancelledExceptionAndChildrenCancelled()
    {
        // test_cancellation / test_taskgroup_17: an outside cancel with no child errors is CancelledError, not a group.
        static async Coroutine<(Exception?, bool, bool, string?)> Main()
        {
            AioTask a = null!, b = null!;
            async Coroutine Runner()
            {
                await TaskGroup.Run(async tg =>
                {
                    a = tg.CreateTask(Co.Sleep(10));
                    b = tg.CreateTask(Co.Sleep(10));
                    await Aio.Sleep(10);
                });
            }

            var runner = Aio.CreateTask(Runner());
            await Aio.Sleep(1);
            runner.Cancel("test");
            Exception? caught = null;
            try
            {
                await runner;
            }
            catch (Exception ex)
            {
                caught = ex;
            }
            return (caught, a.IsCancelled, b.IsCancelled, (caught as CancelledException)?.CancelMessage);
        }

        var (caught, aCancelled, bCancelled, message) = Virtual.Run(Main());

        Assert.IsType<CancelledException>(caught);
        Assert.True(aCancelled);
        Assert.True(bCancelled);
        Assert.Equal("test", message);
    }

    [Fact]
    public void Run_CancelledWhileWaitingForChildren_CancelledExceptionAndChildrenCancelled()
    {
        // test_taskgroup_22: the body already finished; cancelling the parent during the exit wait cancels children.
        static async Coroutine<(bool, bool, double)> Main()
        {
            AioTask child = null!;
            async Coroutine Runner()
            {
                await TaskGroup.Run(async tg =>
                {
                    child = tg.CreateTask(Co.Sleep(10));
                    await Aio.Yield();
                });
            }

            var runner = Aio.CreateTask(Runner());
            await Aio.Sleep(1);
            runner.Cancel();
            bool cancelled = false;
            try
            {
                await runner;
            }
            catch (CancelledException)
            {
                cancelled = true;
            }
            return (cancelled, child.IsCancelled, Now);
        }

        Assert.Equal((true, true, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_ChildFailsAndParentCancelledFromOutside_ErrorsBeatCancellationAndCancelIsRearmed()
    {
        // test_taskgroup_11 / test_error_and_cancel (3.13+): the caller gets the ExceptionGroup; the outside
        // cancel stays pending (count unchanged) and the parent's next await raises CancelledException.
        // The second child fails at 1 and the group waits for the first child's slow cleanup (until 3);
        // the outside cancel lands at 1.5, while the group is already aborting.
        Assert.Equal((true, 1, true, true), Virtual.Run(ErrorThenOutsideCancel()));
    }

    private static async Coroutine<(bool, int, bool, bool)> ErrorThenOutsideCancel()
    {
        bool gotGroup = false, nextAwaitCancelled = false;
        int cancellingAfter = -1;
        async Coroutine Runner()
        {
            try
            {
                await TaskGroup.Run(async tg =>
                {
                    // The child ignores its cancellation for a while, so the group is still waiting when the
                    // outside cancel arrives after the failure of the other child.
                    _ = tg.CreateTask(Slow());
                    _ = tg.CreateTask(Co.Throw(new TestException("child"), 1));
                    await Aio.Sleep(10);
                });
            }
            catch (ExceptionGroup eg) when (eg.Contains<TestException>())
            {
                gotGroup = true;
                cancellingAfter = Aio.CurrentTask!.Cancelling();
            }
            try
            {
                await Aio.Sleep(0.5);
            }
            catch (CancelledException)
            {
                nextAwaitCancelled = true;
                throw;
            }
        }

        static async Coroutine Slow()
        {
            try
            {
                await Aio.Sleep(10);
            }
            finally
            {
                await Aio.Sleep(2);
            }
        }

        var runner = Aio.CreateTask(Runner());
        await Aio.Sleep(1.5);
        runner.Cancel();
        try
        {
            await runner;
        }
        catch (CancelledException)
        {
        }
        return (gotGroup, cancellingAfter, nextAwaitCancelled, runner.IsCancelled);
    }

    [Fact]
    public void Run_OwnCancellationOfParent_DoesNotLeakOut()
    {
        // test_cancellation_does_not_leak_out_of_tg / test_cancelling_level_preserved.
        static async Coroutine<(int Inside, int After, bool SleptAfter)> Main()
        {
            int after;
            try
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(Co.Throw(new TestException("x"), 0));
                    await Aio.Sleep(1);
                });
            }
            catch (ExceptionGroup)
            {
            }
            after = Aio.CurrentTask!.Cancelling();
            await Aio.Sleep(1); // not cancelled again
            return (0, after, true);
        }

        var (_, after, slept) = Virtual.Run(Main());
        Assert.Equal(0, after);
        Assert.True(slept);
    }

    [Fact]
    public void Run_NestedGroupsInnerChildFails_NestedGroupShape()
    {
        // test_taskgroup_14: EG(EG(ValueError)).
        static async Coroutine<ExceptionGroup?> Main()
        {
            try
            {
                await TaskGroup.Run(async outer =>
                {
                    await TaskGroup.Run(async inner =>
                    {
                        _ = inner.CreateTask(Co.Throw(new ArgumentException("inner"), 0.1));
                        await Aio.Sleep(10);
                    });
                });
            }
            catch (ExceptionGroup eg)
            {
                return eg;
            }
            return null;
        }

        var eg = Virtual.Run(Main());

        Assert.NotNull(eg);
        var innerGroup = Assert.IsType<ExceptionGroup>(Assert.Single(eg.Exceptions));
        Assert.IsType<ArgumentException>(Assert.Single(innerGroup.Exceptions));
        Assert.IsType<ArgumentException>(Assert.Single(eg.Leaves()));
    }

    [Fact]
    public void Run_OuterGroupAbortsFirst_InnerBodyAndChildCancelledOnlyOuterErrorReported()
    {
        // test_taskgroup_13.
        static async Coroutine<(ExceptionGroup?, bool)> Main()
        {
            AioTask innerChild = null!;
            try
            {
                await TaskGroup.Run(async outer =>
                {
                    _ = outer.CreateTask(Co.Throw(new ArgumentException("outer"), 0.1));
                    await TaskGroup.Run(async inner =>
                    {
                        innerChild = inner.CreateTask(Co.Sleep(10));
                        await Aio.Sleep(10);
                    });
                });
            }
            catch (ExceptionGroup eg)
            {
                return (eg, innerChild.IsCancelled);
            }
            return (null, false);
        }

        var (eg, innerCancelled) = Virtual.Run(Main());

        Assert.NotNull(eg);
        Assert.Equal("outer", Assert.IsType<ArgumentException>(Assert.Single(eg.Exceptions)).Message);
        Assert.True(innerCancelled);
    }

    [Fact]
    public void CreateTask_AfterFailureFromCancelledChild_InvalidOperationException()
    {
        // test_taskgroup_no_create_task_after_failure.
        static async Coroutine<(Exception?, ExceptionGroup?)> Main()
        {
            Exception? refused = null;
            ExceptionGroup? eg = null;
            try
            {
                await TaskGroup.Run(async tg =>
                {
                    async Coroutine Coro1()
                    {
                        try
                        {
                            await Aio.Sleep(10);
                        }
                        catch (CancelledException)
                        {
                            try
                            {
                                _ = tg.CreateTask(Co.Sleep(0));
                            }
                            catch (InvalidOperationException ex)
                            {
                                refused = ex;
                            }
                            throw;
                        }
                    }

                    _ = tg.CreateTask(Coro1());
                    _ = tg.CreateTask(Co.Throw(new TestException("fail"), 0.1));
                    await Aio.Sleep(10);
                });
            }
            catch (ExceptionGroup ex)
            {
                eg = ex;
            }
            return (refused, eg);
        }

        var (refused, eg) = Virtual.Run(Main());

        Assert.IsType<InvalidOperationException>(refused);
        Assert.Contains("is shutting down", refused.Message, StringComparison.Ordinal);
        Assert.IsType<TestException>(Assert.Single(eg!.Exceptions));
    }

    [Fact]
    public void CreateTask_AfterGroupFinished_InvalidOperationException()
    {
        // test_taskgroup_23-ish: create_task on a finished group raises "is finished".
        static async Coroutine<Exception?> Main()
        {
            TaskGroup saved = null!;
            await TaskGroup.Run(async tg =>
            {
                saved = tg;
                _ = tg.CreateTask(Co.Sleep(0.1));
                await Aio.Yield();
            });
            try
            {
                _ = saved.CreateTask(Co.Sleep(0));
            }
            catch (InvalidOperationException ex)
            {
                return ex;
            }
            return null;
        }

        var ex = Virtual.Run(Main());
        Assert.NotNull(ex);
        Assert.Contains("is finished", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTask_ChildAddsTasksWhileGroupExiting_AllRunToCompletion()
    {
        // test_taskgroup_24: before any failure, children may add tasks while the group is exiting.
        static async Coroutine<(int, double)> Main()
        {
            int ran = 0;
            await TaskGroup.Run(async tg =>
            {
                async Coroutine Spawner(int depth)
                {
                    await Aio.Sleep(1);
                    ran++;
                    if (depth > 0)
                    {
                        _ = tg.CreateTask(Spawner(depth - 1));
                    }
                }

                _ = tg.CreateTask(Spawner(4));
                await Aio.Yield();
            });
            return (ran, Now);
        }

        Assert.Equal((5, 5.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_BodyTurnsCancellationIntoOtherException_GroupOfThatException()
    {
        // test_taskgroup_18: the body converts the outside CancelledError into another exception.
        static async Coroutine<Exception?> Main()
        {
            async Coroutine Runner()
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(Co.Sleep(10));
                    try
                    {
                        await Aio.Sleep(10);
                    }
                    catch (CancelledException)
                    {
                        throw new ArgumentException("converted");
                    }
                });
            }

            var runner = Aio.CreateTask(Runner());
            await Aio.Sleep(0.1);
            runner.Cancel();
            try
            {
                await runner;
            }
            catch (Exception ex)
            {
                return ex;
            }
            return null;
        }

        var caught = Virtual.Run(Main());
        var eg = Assert.IsType<ExceptionGroup>(caught);
        Assert.Equal("converted", Assert.IsType<ArgumentException>(Assert.Single(eg.Exceptions)).Message);
    }

    [Fact]
    public void Cancel_GroupCancelsItself_EndsWithoutRaisingAndParentNotCancelling()
    {
        // TaskGroup.cancel() (3.15): children and the body are cancelled, the group exits normally.
        static async Coroutine<(bool, bool, int, double)> Main()
        {
            AioTask a = null!;
            bool bodyCancelled = false;
            await TaskGroup.Run(async tg =>
            {
                a = tg.CreateTask(Co.Sleep(10));
                await Aio.Sleep(1);
                tg.Cancel();
                tg.Cancel(); // idempotent
                try
                {
                    await Aio.Sleep(10);
                }
                catch (CancelledException)
                {
                    bodyCancelled = true;
                    throw;
                }
            });
            return (a.IsCancelled, bodyCancelled, Aio.CurrentTask!.Cancelling(), Now);
        }

        Assert.Equal((true, true, 0, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_FromChild_GroupEndsWithoutRaising()
    {
        static async Coroutine<(bool, int)> Main()
        {
            AioTask sleeper = null!;
            await TaskGroup.Run(async tg =>
            {
                sleeper = tg.CreateTask(Co.Sleep(10));
                _ = tg.CreateTask(CancelGroupAfter(tg, 1));
                await Aio.Sleep(10);
            });
            return (sleeper.IsCancelled, Aio.CurrentTask!.Cancelling());
        }

        static async Coroutine CancelGroupAfter(TaskGroup tg, double seconds)
        {
            await Aio.Sleep(seconds);
            tg.Cancel();
        }

        Assert.Equal((true, 0), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_AfterGroupFinished_DoesNothing()
    {
        static async Coroutine<(int, double)> Main()
        {
            TaskGroup saved = null!;
            await TaskGroup.Run(async tg =>
            {
                saved = tg;
                _ = tg.CreateTask(Co.Sleep(0.1));
                await Aio.Yield();
            });
            saved.Cancel();
            await Aio.Sleep(1); // the parent is not cancelled
            return (Aio.CurrentTask!.Cancelling(), Now);
        }

        Assert.Equal((0, 1.1), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_ChildFails_CleanupInSiblingsFinallyRunsBeforeGroupEnds()
    {
        static async Coroutine<(List<string>, double)> Main()
        {
            var log = new List<string>();
            async Coroutine WithCleanup()
            {
                try
                {
                    await Aio.Sleep(10);
                }
                finally
                {
                    await Aio.Sleep(1); // cleanup may await
                    log.Add($"cleanup@{Now}");
                }
            }

            try
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(WithCleanup());
                    _ = tg.CreateTask(Co.Throw(new TestException(), 2));
                    await Aio.Sleep(10);
                });
            }
            catch (ExceptionGroup)
            {
                log.Add($"group@{Now}");
            }
            return (log, Now);
        }

        var (log, time) = Virtual.Run(Main());
        Assert.Equal(["cleanup@3", "group@3"], log);
        Assert.Equal(3, time);
    }

    [Fact]
    public void Count_ChildrenPendingAndFinished_Tracked()
    {
        static async Coroutine<(int, int, string)> Main()
        {
            int atStart = -1, midway = -1;
            string repr = "";
            await TaskGroup.Run(async tg =>
            {
                _ = tg.CreateTask(Co.Sleep(1));
                _ = tg.CreateTask(Co.Sleep(2));
                atStart = tg.Count;
                await Aio.Sleep(1.5);
                midway = tg.Count;
                repr = tg.ToString();
            });
            return (atStart, midway, repr);
        }

        Assert.Equal((2, 1, "<TaskGroup tasks=1 entered>"), Virtual.Run(Main()));
    }

    [Fact]
    public void Run_NestedGroupsBothFailAtOnce_InnerSeesOnlyItsErrorCancellingLevelsRestored()
    {
        // test_nested_groups_both_cancelled.
        static async Coroutine<(string, int, string, int)> Main()
        {
            string innerCaught = "", outerCaught = "";
            int cancellingInside = -1;
            try
            {
                await TaskGroup.Run(async outerTg =>
                {
                    try
                    {
                        await TaskGroup.Run(async innerTg =>
                        {
                            _ = innerTg.CreateTask(Co.Throw(new InvalidOperationException("runtime"), 0));
                            _ = outerTg.CreateTask(Co.Throw(new ArgumentException("value"), 0));
                            await Aio.Yield();
                        });
                    }
                    catch (ExceptionGroup eg)
                    {
                        innerCaught = string.Join(",", eg.Leaves().Select(e => e.GetType().Name));
                    }
                    cancellingInside = Aio.CurrentTask!.Cancelling();
                });
            }
            catch (ExceptionGroup eg)
            {
                outerCaught = string.Join(",", eg.Leaves().Select(e => e.GetType().Name));
            }
            return (innerCaught, cancellingInside, outerCaught, Aio.CurrentTask!.Cancelling());
        }

        Assert.Equal(("InvalidOperationException", 1, "ArgumentException", 0), Virtual.Run(Main()));
    }

    [Fact]
    public void DoneCallback_QueuedInFinishOrder_CountDropsOnlyWhenItRuns()
    {
        // asyncio queues the group's _on_task_done with call_soon, first among each child's done callbacks (it was
        // registered first): a callback the child queued just before it finished still sees it counted, the child's
        // own done callback (queued after the group's) sees it gone; children finishing in the same iteration are
        // handled one at a time, each in its place in the queue.
        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            await TaskGroup.Run(async tg =>
            {
                async Coroutine Child(string name)
                {
                    await Aio.Yield();
                    Aio.GetRunningLoop().CallSoon(() => log.Add($"{name} queued before its end: count={tg.Count}"));
                }

                foreach (var name in new[] { "a", "b", "c" })
                {
                    var t = tg.CreateTask(Child(name));
                    t.AddDoneCallback(_ => log.Add($"{name} done callback: count={tg.Count}"));
                }
                await Aio.Yield();
            });
            return log;
        }

        Assert.Equal(
            [
                "a queued before its end: count=3",
                "a done callback: count=2",
                "b queued before its end: count=2",
                "b done callback: count=1",
                "c queued before its end: count=1",
                "c done callback: count=0",
            ],
            Virtual.Run(Main()));
    }

    [Fact]
    public void ChildFails_AfterManyChildrenFinished_EveryPendingChildCancelledInCreationOrder()
    {
        // The group forgets finished children in batches (its list of children is compacted as they finish and as
        // it fills up); a failure must still reach every child not yet finished, created before or after a batch.
        static async Coroutine<(List<int>, int, string)> Main()
        {
            var cancelled = new List<int>();
            int countAtFailure = -1;
            string errors = "";
            async Coroutine Sleeper(int i)
            {
                try
                {
                    await Aio.Sleep(100);
                }
                catch (CancelledException)
                {
                    cancelled.Add(i);
                    throw;
                }
            }

            try
            {
                await TaskGroup.Run(async tg =>
                {
                    int next = 0;
                    for (int round = 0; round < 3; round++)
                    {
                        for (int i = 0; i < 300; i++)
                        {
                            _ = tg.CreateTask(Co.Sleep(0.5));
                        }
                        for (int i = 0; i < 5; i++)
                        {
                            _ = tg.CreateTask(Sleeper(next++));
                        }
                        await Aio.Sleep(1);
                    }
                    countAtFailure = tg.Count;
                    _ = tg.CreateTask(Co.Throw(new InvalidOperationException("boom"), 1));
                    await Aio.Sleep(100);
                });
            }
            catch (ExceptionGroup eg)
            {
                errors = string.Join(",", eg.Leaves().Select(e => e.Message));
            }
            return (cancelled, countAtFailure, errors);
        }

        var (cancelled, count, errors) = Virtual.Run(Main());
        Assert.Equal(Enumerable.Range(0, 15), cancelled);
        Assert.Equal(15, count);
        Assert.Equal("boom", errors);
    }
}
