"""An episode in time (issue 14, items 4-6): the timeline page with its drawn timeline, the periods
after day 0, the patient's card and the calendar file. Reads only: nothing here writes."""
