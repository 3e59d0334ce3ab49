<?cs include:"header.cs" ?>
<h1>Global limits</h1>
<section class="cards">
  <div class="card kpi"><h2>All tenants, today</h2><p class="num"><?cs var:Global.DayCost ?></p><p class="sub"><?cs var:Global.DayTokens ?> tokens</p></div>
  <div class="card kpi"><h2>All tenants, this month</h2><p class="num"><?cs var:Global.MonthCost ?></p><p class="sub"><?cs var:Global.MonthTokens ?> tokens</p></div>
</section>
<section class="card">
  <h2>Limits</h2>
  <p class="sub">Global values are the defaults every plan inherits; the <code>global_budget_*</code> limits cap all tenants together.</p>
  <?cs include:"limits_form.cs" ?>
</section>
<?cs include:"footer.cs" ?>
