<?cs include:"header.cs" ?>
<h1>Global limits</h1>
<section class="cards">
  <div class="card kpi"><h2>All tenants, today</h2><p class="num"><?cs var:Global.DayCost ?></p><p class="sub"><?cs var:Global.DayTokens ?> tokens</p></div>
  <div class="card kpi"><h2>All tenants, this month</h2><p class="num"><?cs var:Global.MonthCost ?></p><p class="sub"><?cs var:Global.MonthTokens ?> tokens</p></div>
</section>
<section class="card">
  <h2>Limits</h2>
  <p class="sub">Global values are the defaults every plan inherits; the <code>global_budget_*</code> limits cap all tenants together.</p>
  <form method="post" action="<?cs var:Prefix ?>/admin/global">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <?cs include:"limits_table.cs" ?>
    <?cs if:User.Role == "operator" ?><p><button type="submit" class="primary">Save limits</button></p><?cs /if ?>
  </form>
</section>
<?cs include:"footer.cs" ?>
